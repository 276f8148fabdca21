import * as DropdownMenu from '@radix-ui/react-dropdown-menu';
import { lazy, Suspense, useState } from 'react';
import { ApiError } from '../api/client';
import { logout } from '../api/identity';
import { useConnectionState } from '../api/useConnectionState';
import type { EventStream } from '../api/ws';
import type { GetMeResponseJson } from '../gen/portal/identity/v1/identity_pb';
import { signedOut } from '../session';
import { toggleTheme, useTheme } from '../styles/theme';
import { ContextSelector } from './ContextSelector';
import { roleOf } from './context';

// The request-access dialog loads when first opened: most sessions never do.
const RequestGrantDialog = lazy(() =>
  import('../features/admin/RequestGrantDialog').then((m) => ({ default: m.RequestGrantDialog })),
);

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
  const [requesting, setRequesting] = useState(false);
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
      <DropdownMenu.Root modal={false}>
        <DropdownMenu.Trigger className="principal principal-button" aria-label={`Account: ${who}, ${roleOf(p.role)}`}>
          <span className="principal-name">{who}</span> <span className="badge">{roleOf(p.role)}</span>
          <span aria-hidden="true"> ▾</span>
        </DropdownMenu.Trigger>
        <DropdownMenu.Portal>
          <DropdownMenu.Content className="menu" align="end" sideOffset={4}>
            <DropdownMenu.Label className="menu-hint menu-label">
              Signed in as {who} ({roleOf(p.role)}
              {p.baseRole && p.baseRole !== p.role ? `, by a grant; ${roleOf(p.baseRole)} otherwise` : ''})
            </DropdownMenu.Label>
            {roleOf(p.baseRole ?? p.role) !== 'admin' ? (
              <DropdownMenu.Item
                className="menu-item"
                onSelect={() => {
                  setRequesting(true);
                }}
              >
                Request elevated access…
              </DropdownMenu.Item>
            ) : null}
          </DropdownMenu.Content>
        </DropdownMenu.Portal>
      </DropdownMenu.Root>
      {requesting ? (
        <Suspense fallback={null}>
          <RequestGrantDialog
            open
            onClose={() => {
              setRequesting(false);
            }}
          />
        </Suspense>
      ) : null}
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
