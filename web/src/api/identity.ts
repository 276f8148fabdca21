// The identity service (GET /api/v1/me) and the gateway's login routes.
import type { GetMeResponseJson } from '../gen/portal/identity/v1/identity_pb';
import { request } from './client';

/** getMe: GET /api/v1/me, the caller, their grants and the CSRF token. */
export function getMe(signal?: AbortSignal): Promise<GetMeResponseJson> {
  return request<GetMeResponseJson>('/api/v1/me', { signal });
}

/**
 * AuthConfig is GET /auth/config: what a login page may offer. It is plain
 * JSON from the gateway's login handler (gateway/internal/identity), not a
 * proto message, so this one type is written by hand.
 */
export interface AuthConfig {
  oidc_enabled: boolean;
  oidc_issuer?: string;
  login_url: string;
  dev_login_enabled: boolean;
  /** Where the development login form posts; the form itself is GET /auth/dev. */
  dev_login_url: string;
  logout_url: string;
  csrf_cookie: string;
  csrf_header: string;
}

/** getAuthConfig: GET /auth/config. */
export function getAuthConfig(signal?: AbortSignal): Promise<AuthConfig> {
  return request<AuthConfig>('/auth/config', { signal });
}

/** logout: POST /auth/logout (with the CSRF header, as every write), ending the session. */
export function logout(): Promise<{ logged_out: boolean; message?: string }> {
  return request('/auth/logout', { method: 'POST' });
}
