import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthConfig } from '../api/identity';
import { LoginPage } from './LoginPage';

afterEach(cleanup);

const base: AuthConfig = {
  oidc_enabled: true,
  login_url: '/auth/login',
  dev_login_enabled: false,
  dev_login_url: '/auth/dev/login',
  logout_url: '/auth/logout',
  csrf_cookie: 'portal_csrf',
  csrf_header: 'X-CSRF-Token',
};

describe('LoginPage', () => {
  it('offers OIDC with the current page as the redirect, and no dev login when disabled', () => {
    render(<LoginPage auth={base} path="/agents/a1?x=1" />);
    expect(screen.getByRole('link', { name: /single sign-on/ }).getAttribute('href')).toBe(
      '/auth/login?redirect=%2Fagents%2Fa1%3Fx%3D1',
    );
    expect(screen.queryByRole('link', { name: 'Development login' })).toBeNull();
    expect(screen.queryByText('development only')).toBeNull();
  });

  it('shows the labelled dev login when enabled', () => {
    render(<LoginPage auth={{ ...base, oidc_enabled: false, dev_login_enabled: true }} path="/" />);
    expect(screen.getByRole('link', { name: 'Development login' }).getAttribute('href')).toBe('/auth/dev?redirect=%2F');
    expect(screen.getByText('development only')).toBeTruthy();
    expect(screen.queryByRole('link', { name: /single sign-on/ })).toBeNull();
  });

  it('says so when no login is configured', () => {
    render(<LoginPage auth={{ ...base, oidc_enabled: false }} path="/" />);
    expect(screen.getByText(/No login method/)).toBeTruthy();
  });
});
