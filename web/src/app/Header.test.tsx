import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventStream } from '../api/ws';
import type { GetMeResponseJson } from '../gen/portal/identity/v1/identity_pb';
import { getSession } from '../session';
import { mockFetch } from '../test/render';
import { Header } from './Header';

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const me = (devLogin: boolean): GetMeResponseJson => ({
  principal: { subject: 'u1', name: 'Ada', email: 'ada@example.com', role: 'ROLE_ADMIN', devLogin },
});

beforeEach(() => {
  document.cookie = 'portal_csrf=c1; path=/';
});
afterEach(() => {
  cleanup();
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

function renderHeader(devLogin: boolean, onMenu = vi.fn()) {
  render(<Header stream={new EventStream({ url: 'ws://t/ws' })} me={me(devLogin)} menuOpen={false} onMenu={onMenu} />);
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
});
