// The foundation shell: it proves the wiring (session, event stream, theme)
// and is not the finished UI; the pages come next.
import { useEffect, useState } from 'react';
import './App.css';
import { useConnectionState } from './api/useConnectionState';
import type { EventStream, StreamEvent } from './api/ws';
import { useSession, type Session } from './session';
import { toggleTheme, useTheme } from './styles/theme';

const roleNames: Record<string, string> = {
  ROLE_VIEWER: 'viewer',
  ROLE_OPERATOR: 'operator',
  ROLE_ADMIN: 'admin',
};

export function ConnectionIndicator({ stream }: { stream: EventStream }) {
  const state = useConnectionState(stream);
  return (
    <span className="conn" data-state={state} role="status" aria-label={`Event stream: ${state}`}>
      <span className="conn-dot" aria-hidden="true" />
      {state}
    </span>
  );
}

function Principal({ session }: { session: Session }) {
  switch (session.state) {
    case 'loading':
      return <span className="muted">Checking your session…</span>;
    case 'error':
      return (
        <span className="error" role="alert">
          {session.error.message}
        </span>
      );
    case 'signed-out': {
      const auth = session.auth;
      return (
        <span>
          <a href={auth?.login_url ?? '/auth/login'}>Log in</a>
          {auth?.dev_login_enabled ? (
            <>
              {' · '}
              <a href="/auth/dev">Development login</a> <span className="badge badge-dev">dev</span>
            </>
          ) : null}
        </span>
      );
    }
    case 'signed-in': {
      const p = session.me.principal ?? {};
      const role = p.role ? (roleNames[p.role] ?? p.role) : 'no role';
      return (
        <span>
          {[p.name, p.email, p.subject].find((s) => s) ?? 'unknown'} <span className="badge">{role}</span>
          {p.devLogin ? <span className="badge badge-dev">development login</span> : null}
        </span>
      );
    }
  }
}

function LastEvent({ stream, enabled }: { stream: EventStream; enabled: boolean }) {
  const [seen, setSeen] = useState<{ count: number; last?: StreamEvent }>({ count: 0 });
  useEffect(() => {
    if (!enabled) {
      return;
    }
    return stream.subscribe('agents', (e) => {
      setSeen((s) => ({ count: s.count + 1, last: e }));
    });
  }, [stream, enabled]);
  return (
    <p className="muted">
      Agent events received: {seen.count}
      {seen.last ? (
        <>
          {' '}
          (last: <code>{seen.last.eventType}</code> on <code>{seen.last.subject}</code>)
        </>
      ) : null}
    </p>
  );
}

export function App({ stream }: { stream: EventStream }) {
  const session = useSession();
  const theme = useTheme();
  const signedIn = session.state === 'signed-in';

  // The stream needs the session: follow it while signed in.
  useEffect(() => {
    if (!signedIn) {
      return;
    }
    stream.start();
    return () => {
      stream.close();
    };
  }, [stream, signedIn]);

  return (
    <div className="shell">
      <header className="shell-header">
        <h1 className="shell-brand">WAOOAW Platform Portal</h1>
        <ConnectionIndicator stream={stream} />
        <span className="shell-spacer" />
        <Principal session={session} />
        <button
          type="button"
          className="button"
          onClick={() => {
            toggleTheme();
          }}
          aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
        >
          {theme === 'dark' ? 'Light' : 'Dark'} theme
        </button>
      </header>
      <main className="card">
        <h2>Foundation</h2>
        <p className="muted">
          The API client, the event stream and the design tokens are wired. The pages are not built yet.
        </p>
        <LastEvent stream={stream} enabled={signedIn} />
      </main>
    </div>
  );
}
