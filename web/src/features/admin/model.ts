// What the admin pages show of identity data: role and state names, their
// status colours, a token's state, durations and time left, and the field a
// refusal names.
import { formatSpan } from '../../ui/format';
import { isApiError } from '../../api/client';
import type { RoleJson } from '../../gen/portal/auth/v1/auth_pb';
import type { GrantJson, GrantStateJson, TokenJson, UserJson } from '../../gen/portal/identity/v1/identity_pb';

export type Tone = 'success' | 'warning' | 'error' | 'info' | 'unknown';

/** The roles one can assign or request, lowest first. */
export const ROLES: { value: RoleJson; label: string }[] = [
  { value: 'ROLE_VIEWER', label: 'viewer' },
  { value: 'ROLE_OPERATOR', label: 'operator' },
  { value: 'ROLE_ADMIN', label: 'admin' },
];

const ROLE_RANK: Record<RoleJson, number> = { ROLE_UNSPECIFIED: 0, ROLE_VIEWER: 1, ROLE_OPERATOR: 2, ROLE_ADMIN: 3 };

export function roleRank(r: RoleJson | null | undefined): number {
  return r ? ROLE_RANK[r] : 0;
}

/** roleLabel names a role for people; "none" for no role. */
export function roleLabel(r: RoleJson | null | undefined): string {
  return ROLES.find((x) => x.value === r)?.label ?? 'none';
}

/** Whether a role is set: protojson sends ROLE_UNSPECIFIED for an unset one. */
export function hasRole(r: RoleJson | null | undefined): r is Exclude<RoleJson, 'ROLE_UNSPECIFIED'> {
  return roleRank(r) > 0;
}

/** Where a user's role comes from, for the Source column and the dialog. */
export function roleSource(u: UserJson): string {
  if (hasRole(u.assignedRole)) {
    return 'assigned by an admin';
  }
  if (hasRole(u.mappedRole)) {
    return 'role rules';
  }
  return 'no rule matches';
}

/**
 * A development login chooses its role at each login, over any assignment or
 * rule (gateway/internal/identity: startSession), so the table says so.
 */
export function isDevUser(u: UserJson): boolean {
  return u.issuer === 'dev';
}

export const GRANT_STATES: { value: Exclude<GrantStateJson, 'GRANT_STATE_UNSPECIFIED'>; label: string; tone: Tone }[] = [
  { value: 'GRANT_STATE_PENDING', label: 'Pending', tone: 'warning' },
  { value: 'GRANT_STATE_ACTIVE', label: 'Active', tone: 'success' },
  { value: 'GRANT_STATE_DENIED', label: 'Denied', tone: 'error' },
  { value: 'GRANT_STATE_REVOKED', label: 'Revoked', tone: 'unknown' },
  { value: 'GRANT_STATE_EXPIRED', label: 'Expired', tone: 'unknown' },
];

/**
 * grantState is the grant's state now: an active grant whose expiry has
 * passed reads expired, as the server would say on the next read.
 */
export function grantState(g: GrantJson, now: number): GrantStateJson {
  const st = g.state ?? 'GRANT_STATE_UNSPECIFIED';
  if (st === 'GRANT_STATE_ACTIVE' && g.expireTime && Date.parse(g.expireTime) <= now) {
    return 'GRANT_STATE_EXPIRED';
  }
  return st;
}

export function grantStateInfo(st: GrantStateJson): { label: string; tone: Tone } {
  return GRANT_STATES.find((s) => s.value === st) ?? { label: 'Unknown', tone: 'unknown' };
}

export type TokenState = 'active' | 'expired' | 'revoked';

/** tokenState: revoked, expired (past its expiry) or active. */
export function tokenState(t: TokenJson, now: number): TokenState {
  if (t.revokeTime) {
    return 'revoked';
  }
  if (t.expireTime && Date.parse(t.expireTime) <= now) {
    return 'expired';
  }
  return 'active';
}

export const TOKEN_STATE_INFO: Record<TokenState, { label: string; tone: Tone }> = {
  active: { label: 'Active', tone: 'success' },
  expired: { label: 'Expired', tone: 'unknown' },
  revoked: { label: 'Revoked', tone: 'error' },
};

/** toneColor is the design token a status tone is drawn in. */
export function toneColor(t: Tone): string {
  return `var(--color-${t})`;
}

/** A protobuf Duration in JSON ("3600s", "0.5s") as seconds. */
export function durationSeconds(d: string | null | undefined): number | undefined {
  if (!d) {
    return undefined;
  }
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(d);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** formatDuration shows a protobuf Duration; "—" when absent. */
export function formatDuration(d: string | null | undefined): string {
  const s = durationSeconds(d);
  return s === undefined ? '—' : formatSpan(s);
}

/** timeLeft is what remains until an RFC 3339 time, "" once it has passed. */
export function timeLeft(until: string | null | undefined, now: number): string {
  if (!until) {
    return '';
  }
  const ms = Date.parse(until) - now;
  return Number.isNaN(ms) || ms <= 0 ? '' : formatSpan(Math.ceil(ms / 1000));
}

/**
 * fieldErrors maps each field a refusal names to what was wrong with it, from
 * google.rpc.BadRequest's violations (the servers add one for every rule the
 * request validator found broken).
 */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isApiError(err)) {
    return out;
  }
  for (const v of err.fieldViolations) {
    out[v.field] ??= v.description;
  }
  return out;
}

/**
 * firstText is the first value that is a non-empty string: protojson sends
 * "" for an unset string, which `??` would keep.
 */
export function firstText(...values: (string | null | undefined)[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v !== '');
}
