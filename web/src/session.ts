// Who is logged in: GET /api/v1/me, kept in a small store the app reads with
// useSession. Reloaded at start, when the event stream says access ended, and
// marked signed out by the client's 401 hook.
import { useSyncExternalStore } from 'react';
import { ApiError } from './api/client';
import { getAuthConfig, getMe, type AuthConfig } from './api/identity';
import type { GetMeResponseJson } from './gen/portal/identity/v1/identity_pb';

export type Session =
  | { state: 'loading' }
  | { state: 'signed-in'; me: GetMeResponseJson }
  | { state: 'signed-out'; auth: AuthConfig | undefined }
  | { state: 'error'; error: ApiError };

let session: Session = { state: 'loading' };
const listeners = new Set<() => void>();
let generation = 0;

function set(s: Session): void {
  session = s;
  for (const l of [...listeners]) {
    l();
  }
}

export function getSession(): Session {
  return session;
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSession(): Session {
  return useSyncExternalStore(subscribeSession, getSession);
}

/** signedOut records that the session ended, and fetches what login offers. */
export async function signedOut(): Promise<void> {
  const gen = ++generation;
  set({ state: 'signed-out', auth: session.state === 'signed-out' ? session.auth : undefined });
  try {
    const auth = await getAuthConfig();
    if (gen === generation) {
      set({ state: 'signed-out', auth });
    }
  } catch {
    // The login links fall back to /auth/login alone.
  }
}

/** loadSession (re)reads GET /api/v1/me. */
export async function loadSession(): Promise<void> {
  const gen = ++generation;
  try {
    const me = await getMe();
    if (gen === generation) {
      set({ state: 'signed-in', me });
    }
  } catch (err) {
    if (gen !== generation) {
      return;
    }
    if (err instanceof ApiError && err.status === 401) {
      await signedOut();
      return;
    }
    set({
      state: 'error',
      error: err instanceof ApiError ? err : new ApiError({ status: 0, code: 2, message: String(err), cause: err }),
    });
  }
}
