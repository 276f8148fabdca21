// The identity data in TanStack Query, kept live by the event stream: the
// gateway sends admins the identity events (subjects users/<id>, tokens/<id>,
// grants/<id>), which update the cached lists in place or make them re-read
// (no polling).
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import {
  listGrants,
  listTokens,
  listUsers,
  type ListGrantsParams,
  type ListTokensParams,
  type ListUsersParams,
} from '../../api/admin';
import { getMe } from '../../api/identity';
import type { StreamEvent } from '../../api/ws';
import { useStream } from '../../app/context';
import type {
  GrantJson,
  ListGrantsResponseJson,
  ListTokensResponseJson,
  ListUsersResponseJson,
  TokenJson,
  UserJson,
} from '../../gen/portal/identity/v1/identity_pb';
import { grantState, tokenState } from './model';

export const identityKeys = {
  all: ['identity'] as const,
  me: () => ['identity', 'me'] as const,
  users: () => ['identity', 'users'] as const,
  userList: (p: ListUsersParams) => ['identity', 'users', p] as const,
  tokens: () => ['identity', 'tokens'] as const,
  tokenList: (p: ListTokensParams) => ['identity', 'tokens', p] as const,
  grants: () => ['identity', 'grants'] as const,
  grantList: (p: ListGrantsParams) => ['identity', 'grants', p] as const,
};

export const meQuery = () => ({
  queryKey: identityKeys.me(),
  queryFn: ({ signal }: { signal: AbortSignal }) => getMe(signal),
});

export const usersQuery = (p: ListUsersParams) => ({
  queryKey: identityKeys.userList(p),
  queryFn: ({ signal }: { signal: AbortSignal }) => listUsers(p, signal),
});

export const tokensQuery = (p: ListTokensParams) => ({
  queryKey: identityKeys.tokenList(p),
  queryFn: ({ signal }: { signal: AbortSignal }) => listTokens(p, signal),
});

export const grantsQuery = (p: ListGrantsParams) => ({
  queryKey: identityKeys.grantList(p),
  queryFn: ({ signal }: { signal: AbortSignal }) => listGrants(p, signal),
});

/**
 * userChanged puts a newer copy of a user into every cached list holding it;
 * false when no list did (a new user, or one on a page not read).
 */
export function userChanged(qc: QueryClient, user: UserJson): boolean {
  let found = false;
  for (const [key, old] of qc.getQueriesData<ListUsersResponseJson>({ queryKey: identityKeys.users() })) {
    if (old?.users?.some((u) => u.id === user.id)) {
      found = true;
      qc.setQueryData<ListUsersResponseJson>(key, { ...old, users: old.users.map((u) => (u.id === user.id ? user : u)) });
    }
  }
  return found;
}

/** tokenChanged puts a newer copy of a token into the cached lists; a list of active ones drops it once it is not. */
export function tokenChanged(qc: QueryClient, token: TokenJson): boolean {
  let found = false;
  const now = Date.now();
  for (const [key, old] of qc.getQueriesData<ListTokensResponseJson>({ queryKey: identityKeys.tokens() })) {
    if (!old?.tokens?.some((t) => t.id === token.id)) {
      continue;
    }
    found = true;
    const params = key[2] as ListTokensParams | undefined;
    const fits = params?.showInactive === true || tokenState(token, now) === 'active';
    qc.setQueryData<ListTokensResponseJson>(key, {
      ...old,
      tokens: fits ? old.tokens.map((t) => (t.id === token.id ? token : t)) : old.tokens.filter((t) => t.id !== token.id),
    });
  }
  return found;
}

/** grantChanged puts a newer copy of a grant into the cached lists; a list filtered by state drops it once it left that state. */
export function grantChanged(qc: QueryClient, grant: GrantJson): boolean {
  let found = false;
  const now = Date.now();
  for (const [key, old] of qc.getQueriesData<ListGrantsResponseJson>({ queryKey: identityKeys.grants() })) {
    if (!old?.grants?.some((g) => g.id === grant.id)) {
      continue;
    }
    found = true;
    const want = (key[2] as ListGrantsParams | undefined)?.state;
    const fits = !want || want === 'GRANT_STATE_UNSPECIFIED' || grantState(grant, now) === want;
    qc.setQueryData<ListGrantsResponseJson>(key, {
      ...old,
      grants: fits ? old.grants.map((g) => (g.id === grant.id ? grant : g)) : old.grants.filter((g) => g.id !== grant.id),
    });
  }
  return found;
}

const PREFIX = 'portal.identity.v1.';

/** applyIdentityEvent updates the query cache from one identity event of the stream. */
export function applyIdentityEvent(qc: QueryClient, e: StreamEvent): void {
  if (!e.eventType.startsWith(PREFIX)) {
    return;
  }
  const data = e.data as { user?: UserJson; token?: TokenJson; grant?: GrantJson } | undefined;
  switch (e.eventType.slice(PREFIX.length)) {
    case 'UserRoleChanged':
      if (data?.user?.id && !userChanged(qc, data.user)) {
        void qc.invalidateQueries({ queryKey: identityKeys.users() });
      }
      break;
    case 'LoggedIn': {
      // The event carries the principal, not the user: a known user gets its
      // last login from the event's time; a new one means re-reading.
      const id = e.subject.startsWith('users/') ? e.subject.slice('users/'.length) : '';
      let found = false;
      for (const [key, old] of qc.getQueriesData<ListUsersResponseJson>({ queryKey: identityKeys.users() })) {
        if (old?.users?.some((u) => u.id === id)) {
          found = true;
          qc.setQueryData<ListUsersResponseJson>(key, {
            ...old,
            users: old.users.map((u) => (u.id === id ? { ...u, lastLoginTime: e.time } : u)),
          });
        }
      }
      if (!found) {
        void qc.invalidateQueries({ queryKey: identityKeys.users() });
      }
      break;
    }
    case 'TokenCreated':
      // Newest first: it lands on the first page of every list.
      void qc.invalidateQueries({ queryKey: identityKeys.tokens() });
      break;
    case 'TokenRevoked':
    case 'TokenUsed':
      if (data?.token?.id) {
        tokenChanged(qc, data.token);
      }
      break;
    case 'GrantChanged':
      if (data?.grant?.id && !grantChanged(qc, data.grant)) {
        // A new request (or one on a page not read): where it lands depends
        // on each list's filter, so re-read them.
        void qc.invalidateQueries({ queryKey: identityKeys.grants() });
      }
      break;
  }
}

/**
 * useIdentityEvents follows a topic ("users", "tokens", "grants") into the
 * query cache. Only admins are sent identity events; for anyone else the
 * subscription stays silent.
 */
export function useIdentityEvents(topic: 'users' | 'tokens' | 'grants'): void {
  const stream = useStream();
  const qc = useQueryClient();
  useEffect(
    () =>
      stream.subscribe(topic, (e) => {
        applyIdentityEvent(qc, e);
      }),
    [stream, qc, topic],
  );
}
