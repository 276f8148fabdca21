import { useState } from 'react';
import { ApiError } from '../api/client';
import { logout } from '../api/identity';
import { useConnectionState } from '../api/useConnectionState';
import type { EventStream } from '../api/ws';
import type { GetMeResponseJson } from '../gen/portal/identity/v1/identity_pb';
import { signedOut } from '../session';
import { toggleTheme, useTheme } from '../styles/theme';
import { ContextSelector } from '../ui/ContextSelector';
import { roleOf } from './context';

export function ConnectionIndicator({ stream }: { stream: EventStream }) {
  const state = useConnectionState(stream);
  const label = state === 'open' ? 'live' : state;
  return (
    <span className="conn" data-state={state} role="status" aria-label={`Event stream: ${state}`}>
      <span className="conn-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

export function Header({
  stream,
  me,
  menuOpen,
  onMenu,
}: {
  stream: EventStream;
  me: GetMeResponseJson;
  menuOpen: boolean;
  onMenu: () => void;
}) {
  const theme = useTheme();
  const [error, setError] = useState<string | undefined>();
  const p = me.principal ?? {};
  const who = [p.name, p.email, p.subject].find((s) => s) ?? 'unknown';
  return (
    <header className="shell-header">
      <button
        type="button"
        className="button button-icon menu-button"
        aria-controls="sidebar"
        aria-expanded={menuOpen}
        aria-label="Menu"
        onClick={onMenu}
      >
        ☰
      </button>
      <span className="shell-brand">WAOOAW Platform Portal</span>
      <ConnectionIndicator stream={stream} />
      <ContextSelector />
      <span className="shell-spacer" />
      {p.devLogin ? (
        <span className="badge badge-dev" title="Signed in through the development login: not for production">
          development login
        </span>
      ) : null}
      <span className="principal">
        <span className="principal-name">{who}</span> <span className="badge">{roleOf(p.role)}</span>
      </span>
      <button
        type="button"
        className="button"
        onClick={() => {
          toggleTheme();
        }}
        aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
      >
        {theme === 'dark' ? '☀' : '☾'}
      </button>
      <button
        type="button"
        className="button"
        onClick={() => {
          logout().then(
            () => {
              void signedOut();
            },
            (err: unknown) => {
              setError(err instanceof ApiError ? err.message : String(err));
            },
          );
        }}
      >
        Log out
      </button>
      {error ? (
        <span className="error" role="alert">
          {error}
        </span>
      ) : null}
    </header>
  );
}
