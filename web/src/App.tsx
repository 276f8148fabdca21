// The app shell: the login page when signed out; when signed in, the header,
// the sidebar and the routed pages, with the event stream and the role in context.
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';
import { Link, Route, Routes, useLocation } from 'react-router';
import './App.css';
import type { EventStream } from './api/ws';
import { atLeast, RoleContext, roleOf, StreamContext, useRole, type Role } from './app/context';
import { Header } from './app/Header';
import { LoginPage } from './app/LoginPage';
import { Sidebar } from './app/Sidebar';
import { DashboardPage } from './features/dashboard/DashboardPage';
import type { GetMeResponseJson } from './gen/portal/identity/v1/identity_pb';
import { useSession } from './session';
import { ErrorMessage } from './ui/ErrorMessage';
import { Toaster } from './ui/toast';

// Every page but the dashboard (the first one most people see) loads on
// first use, so the first route's JavaScript stays small.
const AgentsPage = lazy(() => import('./features/agents/AgentsPage').then((m) => ({ default: m.AgentsPage })));
const AgentDetailPage = lazy(() => import('./features/agents/AgentDetailPage'));
const EventsPage = lazy(() => import('./features/events/EventsPage'));
const AuditPage = lazy(() => import('./features/audit/AuditPage'));
const UsersPage = lazy(() => import('./features/admin/UsersPage'));
const TokensPage = lazy(() => import('./features/admin/TokensPage'));
const GrantsPage = lazy(() => import('./features/admin/GrantsPage'));

/** RequireRole shows a page to the roles that may use it, and says so to the others. */
function RequireRole({ min, children }: { min: Role; children: ReactNode }) {
  const role = useRole();
  if (atLeast(role, min)) {
    return children;
  }
  return (
    <section>
      <h1 className="page-title">Not available</h1>
      <p>
        This page needs the {min} role; you are signed in as {role}. <Link to="/">Back to the dashboard</Link>
      </p>
    </section>
  );
}

function NotFound() {
  return (
    <section>
      <h1 className="page-title">Not found</h1>
      <p>
        No page here. <Link to="/">Back to the dashboard</Link>
      </p>
    </section>
  );
}

function SignedIn({ stream, me }: { stream: EventStream; me: GetMeResponseJson }) {
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  // The stream needs the session: follow it while signed in.
  useEffect(() => {
    stream.start();
    return () => {
      stream.close();
    };
  }, [stream]);
  // The mobile drawer closes on Escape, like a menu.
  useEffect(() => {
    if (!menuOpen) {
      return;
    }
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setMenuOpen(false);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
    };
  }, [menuOpen]);
  return (
    <StreamContext value={stream}>
      <RoleContext value={roleOf(me.principal?.role)}>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <div className="shell">
          <Header
            stream={stream}
            me={me}
            menuOpen={menuOpen}
            onMenu={() => {
              setMenuOpen((o) => !o);
            }}
          />
          <div className="shell-body">
            <Sidebar
              open={menuOpen}
              onNavigate={() => {
                setMenuOpen(false);
              }}
            />
            <main id="main" className="shell-main" tabIndex={-1}>
              <Suspense fallback={<p className="muted">Loading…</p>}>
                <Routes location={location}>
                  <Route path="/" element={<DashboardPage />} />
                  <Route path="/agents" element={<AgentsPage />} />
                  <Route path="/agents/:id" element={<AgentDetailPage />} />
                  <Route path="/events" element={<EventsPage />} />
                  <Route
                    path="/audit"
                    element={
                      <RequireRole min="operator">
                        <AuditPage />
                      </RequireRole>
                    }
                  />
                  <Route
                    path="/admin/users"
                    element={
                      <RequireRole min="admin">
                        <UsersPage />
                      </RequireRole>
                    }
                  />
                  <Route
                    path="/admin/tokens"
                    element={
                      <RequireRole min="admin">
                        <TokensPage />
                      </RequireRole>
                    }
                  />
                  <Route
                    path="/admin/grants"
                    element={
                      <RequireRole min="admin">
                        <GrantsPage />
                      </RequireRole>
                    }
                  />
                  <Route path="*" element={<NotFound />} />
                </Routes>
              </Suspense>
            </main>
          </div>
        </div>
      </RoleContext>
    </StreamContext>
  );
}

export function App({ stream, queryClient }: { stream: EventStream; queryClient: QueryClient }) {
  const session = useSession();
  const location = useLocation();
  let body;
  switch (session.state) {
    case 'loading':
      body = <p className="muted center">Checking your session…</p>;
      break;
    case 'error':
      body = (
        <main className="login">
          <ErrorMessage error={session.error} title="Cannot reach the portal" />
        </main>
      );
      break;
    case 'signed-out':
      body = <LoginPage auth={session.auth} path={location.pathname + location.search} />;
      break;
    case 'signed-in':
      body = <SignedIn stream={stream} me={session.me} />;
      break;
  }
  return (
    <QueryClientProvider client={queryClient}>
      {body}
      <Toaster />
    </QueryClientProvider>
  );
}
