// What every page reads: the one event stream, and the signed-in principal's role.
import { createContext, useContext } from 'react';
import type { EventStream } from '../api/ws';
import type { RoleJson } from '../gen/portal/auth/v1/auth_pb';

export const StreamContext = createContext<EventStream | null>(null);

export function useStream(): EventStream {
  const s = useContext(StreamContext);
  if (!s) {
    throw new Error('useStream outside StreamContext');
  }
  return s;
}

export type Role = 'viewer' | 'operator' | 'admin' | 'none';

export function roleOf(role: RoleJson | undefined): Role {
  switch (role) {
    case 'ROLE_VIEWER':
      return 'viewer';
    case 'ROLE_OPERATOR':
      return 'operator';
    case 'ROLE_ADMIN':
      return 'admin';
    default:
      return 'none';
  }
}

export const RoleContext = createContext<Role>('none');

export function useRole(): Role {
  return useContext(RoleContext);
}

const RANK: Record<Role, number> = { none: 0, viewer: 1, operator: 2, admin: 3 };

/** atLeast reports whether role is want or above it. */
export function atLeast(role: Role, want: Role): boolean {
  return RANK[role] >= RANK[want];
}

/** Operators and admins run lifecycle actions; viewers only look. */
export function canOperate(role: Role): boolean {
  return role === 'operator' || role === 'admin';
}
