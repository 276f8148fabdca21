import { QueryClient } from '@tanstack/react-query';
import { act, cleanup, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { EventStream, type WebSocketLike } from './api/ws';
import { loadSession } from './session';

class QuietSocket implements WebSocketLike {
  static instances: QuietSocket[] = [];
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  constructor(readonly url: string) {
    QuietSocket.instances.push(this);
  }
  send(): void {
    // The shell's subscribe; nothing answers.
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
}

function routes(table: Record<string, [number, unknown]>) {
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string) => {
      const [status, body] = table[url] ?? [404, { code: 5, message: `no route ${url}` }];
      return Promise.resolve(
        new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }),
      );
    }),
  );
}

beforeEach(() => {
  QuietSocket.instances = [];
});

afterEach(() => {
  cleanup();
});

describe('App shell', () => {
  it('shows the principal and the stream state when signed in', async () => {
    routes({
      '/api/v1/me': [
        200,
        {
          principal: {
            subject: 'u1',
            email: 'ada@example.com',
            name: 'Ada',
            kind: 'PRINCIPAL_KIND_USER',
            role: 'ROLE_OPERATOR',
            devLogin: true,
          },
          grants: [],
          csrfToken: 't',
        },
      ],
    });
    const stream = new EventStream({ url: 'ws://t/ws', WebSocket: QuietSocket });
    await act(() => loadSession());
    render(
      <MemoryRouter initialEntries={['/agents?state=AGENT_STATE_RUNNING']}>
        <App stream={stream} queryClient={new QueryClient()} />
      </MemoryRouter>,
    );

    expect(screen.getByText('Ada')).toBeTruthy();
    expect(screen.getByText('operator')).toBeTruthy();
    expect(screen.getByText('development login')).toBeTruthy();
    expect(screen.getByRole('status').dataset.state).toBe('connecting');
    act(() => {
      QuietSocket.instances[0]?.open();
    });
    expect(screen.getByRole('status').dataset.state).toBe('open');
    // The shell: navigation for everyone, the routed page.
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect([...nav.querySelectorAll('a')].map((a) => a.textContent)).toEqual(['Dashboard', 'Agents', 'Events', 'Audit']);
    expect(await screen.findByRole('heading', { level: 1, name: 'Agents' })).toBeTruthy();
  });

  it('shows the login page when signed out, returning to the current page, with the dev login when enabled', async () => {
    routes({
      '/api/v1/me': [401, { code: 16, message: 'log in' }],
      '/auth/config': [
        200,
        {
          oidc_enabled: false,
          login_url: '/auth/login',
          dev_login_enabled: true,
          dev_login_url: '/auth/dev/login',
          logout_url: '/auth/logout',
          csrf_cookie: 'portal_csrf',
          csrf_header: 'X-CSRF-Token',
        },
      ],
    });
    const stream = new EventStream({ url: 'ws://t/ws', WebSocket: QuietSocket });
    await act(() => loadSession());
    render(
      <MemoryRouter initialEntries={['/agents?state=AGENT_STATE_RUNNING']}>
        <App stream={stream} queryClient={new QueryClient()} />
      </MemoryRouter>,
    );

    const redirect = encodeURIComponent('/agents?state=AGENT_STATE_RUNNING');
    expect(screen.queryByRole('link', { name: /single sign-on/ })).toBeNull();
    expect(screen.getByRole('link', { name: 'Development login' }).getAttribute('href')).toBe(
      `/auth/dev?redirect=${redirect}`,
    );
    // No session, no stream.
    expect(QuietSocket.instances).toHaveLength(0);
  });
});
