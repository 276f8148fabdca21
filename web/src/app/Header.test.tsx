import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventStream, type WebSocketLike } from '../api/ws';
import type { GetMeResponseJson } from '../gen/portal/identity/v1/identity_pb';
import { getSession } from '../session';
import { mockFetch, renderWith } from '../test/render';
import { Header } from './Header';
import { resetScopeForTest, SCOPE_KEY } from './scope';

/** A socket the test opens and closes by hand. */
class HandSocket implements WebSocketLike {
  static last: HandSocket | undefined;
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  constructor(readonly url: string) {
    HandSocket.last = this;
  }
  send(): void {
    // nothing answers
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  drop(): void {
    this.readyState = 3;
    this.onclose?.(new CloseEvent('close', { code: 1006 }));
  }
}

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const me = (devLogin: boolean): GetMeResponseJson => ({
  principal: { subject: 'u1', name: 'Ada', email: 'ada@example.com', role: 'ROLE_ADMIN', devLogin },
});

beforeEach(() => {
  document.cookie = 'portal_csrf=c1; path=/';
});
afterEach(() => {
  cleanup();
  localStorage.removeItem(SCOPE_KEY);
  resetScopeForTest();
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

function renderHeader(devLogin: boolean, onMenu = vi.fn(), stream = new EventStream({ url: 'ws://t/ws' })) {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter>
        <Header stream={stream} me={me(devLogin)} menuOpen={false} onMenu={onMenu} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return onMenu;
}

describe('Header', () => {
  it('shows the principal, the role and the development login label', () => {
    renderHeader(true);
    expect(screen.getByText('Ada')).toBeTruthy();
    expect(screen.getByText('admin')).toBeTruthy();
    expect(screen.getByText('development login')).toBeTruthy();
    expect(screen.getByRole('status', { name: 'Event stream: closed' })).toBeTruthy();
  });

  it('has no development label for a real login', () => {
    renderHeader(false);
    expect(screen.queryByText('development login')).toBeNull();
  });

  it('logs out with a POST carrying the CSRF header, then shows the login', async () => {
    const calls = mockFetch(
      {
        'POST /auth/logout': () => [200, { logged_out: true }],
        'GET /auth/config': () => [200, { oidc_enabled: true, login_url: '/auth/login', dev_login_enabled: false }],
      },
      stub,
    );
    renderHeader(false);
    fireEvent.click(screen.getByRole('button', { name: 'Log out' }));
    await waitFor(() => {
      expect(getSession().state).toBe('signed-out');
    });
    expect(calls[0]?.method).toBe('POST');
    expect(calls[0]?.url).toBe('/auth/logout');
    expect(calls[0]?.headers.get('X-CSRF-Token')).toBe('c1');
  });

  it('the menu button toggles the sidebar and says whether it is open', () => {
    const onMenu = renderHeader(false);
    const button = screen.getByRole('button', { name: 'Menu' });
    expect(button.getAttribute('aria-expanded')).toBe('false');
    expect(button.getAttribute('aria-controls')).toBe('sidebar');
    fireEvent.click(button);
    expect(onMenu).toHaveBeenCalledTimes(1);
  });

  it('the connection indicator follows the stream: connecting, live, reconnecting', () => {
    vi.useFakeTimers();
    try {
      const stream = new EventStream({ url: 'ws://t/ws', WebSocket: HandSocket, random: () => 0 });
      renderHeader(false, vi.fn(), stream);
      const indicator = screen.getByRole('status');
      expect(indicator.getAttribute('aria-label')).toBe('Event stream: closed');
      act(() => {
        stream.start();
      });
      expect(indicator.dataset.state).toBe('connecting');
      expect(indicator.getAttribute('aria-label')).toBe('Event stream: connecting');
      act(() => {
        HandSocket.last?.open();
      });
      expect(indicator.dataset.state).toBe('open');
      expect(indicator.textContent).toBe('live');
      act(() => {
        HandSocket.last?.drop();
      });
      expect(indicator.dataset.state).toBe('reconnecting');
      expect(indicator.getAttribute('aria-label')).toBe('Event stream: reconnecting');
      act(() => {
        stream.close();
      });
      expect(indicator.dataset.state).toBe('closed');
    } finally {
      vi.useRealTimers();
    }
  });

  it('has the context selector, showing the stored context', () => {
    localStorage.setItem(SCOPE_KEY, JSON.stringify({ kind: 'customer', customer: 'acme' }));
    resetScopeForTest();
    renderHeader(false);
    expect(screen.getByRole('button', { name: 'Context: Customer acme' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Clear context' })).toBeTruthy();
  });
});

describe('the account menu', () => {
  function renderAs(role: 'ROLE_OPERATOR' | 'ROLE_ADMIN', baseRole = role) {
    renderWith(
      <Header
        stream={new EventStream({ url: 'ws://t/ws' })}
        me={{ principal: { subject: 'u1', name: 'Olga', role, baseRole } }}
        menuOpen={false}
        onMenu={vi.fn()}
      />,
    );
  }

  it('lets an operator request elevated access, in a dialog loaded on demand', async () => {
    mockFetch(
      {
        'GET /api/v1/me': () => [200, { principal: { subject: 'u1', role: 'ROLE_OPERATOR', baseRole: 'ROLE_OPERATOR' } }],
        'GET /api/v1/grants': () => [200, { grants: [] }],
      },
      stub,
    );
    renderAs('ROLE_OPERATOR');
    const trigger = screen.getByRole('button', { name: 'Account: Olga, operator' });
    fireEvent.pointerDown(trigger, { button: 0, ctrlKey: false });
    fireEvent.click(await screen.findByRole('menuitem', { name: 'Request elevated access…' }));
    expect(await screen.findByRole('dialog')).toBeTruthy();
  });

  it('offers an admin nothing to request, and says when a role comes from a grant', async () => {
    renderAs('ROLE_ADMIN', 'ROLE_ADMIN');
    fireEvent.pointerDown(screen.getByRole('button', { name: 'Account: Olga, admin' }), { button: 0, ctrlKey: false });
    await screen.findByRole('menu');
    expect(screen.queryByRole('menuitem', { name: /Request elevated access/ })).toBeNull();
    cleanup();
    renderAs('ROLE_ADMIN', 'ROLE_OPERATOR');
    fireEvent.pointerDown(screen.getByRole('button', { name: 'Account: Olga, admin' }), { button: 0, ctrlKey: false });
    expect((await screen.findByRole('menu')).textContent).toContain('by a grant; operator otherwise');
    expect(screen.getByRole('menuitem', { name: 'Request elevated access…' })).toBeTruthy();
  });
});
