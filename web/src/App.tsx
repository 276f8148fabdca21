// The app shell: the login page when signed out; when signed in, the header,
// the sidebar and the routed pages, with the event stream and the role in context.
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, Route, Routes, useLocation } from 'react-router';
import './App.css';
import type { EventStream } from './api/ws';
import { RoleContext, roleOf, StreamContext } from './app/context';
import { Header } from './app/Header';
import { LoginPage } from './app/LoginPage';
import { Sidebar } from './app/Sidebar';
import { AgentsPage } from './features/agents/AgentsPage';
import { DashboardPage } from './features/dashboard/DashboardPage';
import type { GetMeResponseJson } from './gen/portal/identity/v1/identity_pb';
import { useSession } from './session';
import { ErrorMessage } from './ui/ErrorMessage';

const AgentDetailPage = lazy(() => import('./features/agents/AgentDetailPage'));

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
  return <QueryClientProvider client={queryClient}>{body}</QueryClientProvider>;
}
