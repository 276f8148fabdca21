// The audit page's logic, apart from React: the search form's state and its
// URL form, the datetime-local <-> RFC 3339 conversions, the request the
// search sends (with the agent scope), the export's time range, and how
// hashes and outcomes are shown.
import type { SearchEntriesParams } from '../../api/audit';
import type { Scope } from '../../app/scope';

export interface AuditFilters {
  actor: string;
  /** A full event type ("portal.agents.v1.AgentStateChanged"), or a known short one. */
  action: string;
  /** A resource prefix ("agents/" or "agents/<id>"). */
  resource: string;
  /** "", "success", "failure" or "denied". */
  outcome: string;
  /** RFC 3339, or "". */
  from: string;
  /** RFC 3339, or "". */
  to: string;
  /** Free text (web search syntax). */
  q: string;
}

export const AUDIT_FILTER_KEYS = ['actor', 'action', 'resource', 'outcome', 'from', 'to', 'q'] as const;

export const EMPTY_FILTERS: AuditFilters = { actor: '', action: '', resource: '', outcome: '', from: '', to: '', q: '' };

export const OUTCOMES = ['success', 'denied', 'failure'] as const;

/**
 * The event types the platform publishes, which the audit log records as
 * actions: suggestions for the action field, and how a short name typed
 * there is completed. (The protos are not loaded at run time, so they are
 * listed here; a type missing from the list can still be typed in full.)
 */
export const KNOWN_ACTIONS = [
  'portal.agents.v1.AgentCreated',
  'portal.agents.v1.AgentUpdated',
  'portal.agents.v1.AgentDeleted',
  'portal.agents.v1.AgentStateChanged',
  'portal.agents.v1.OperationChanged',
  'portal.agents.v1.BulkOperationProgress',
  'portal.provisioning.v1.InstanceChanged',
  'portal.provisioning.v1.WorkloadFailed',
  'portal.identity.v1.LoggedIn',
  'portal.identity.v1.LoginFailed',
  'portal.identity.v1.LoggedOut',
  'portal.identity.v1.AccessDenied',
  'portal.identity.v1.TokenUsed',
  'portal.identity.v1.TokenCreated',
  'portal.identity.v1.TokenRevoked',
  'portal.identity.v1.UserRoleChanged',
  'portal.identity.v1.GrantChanged',
] as const;

/** filtersFromParams reads the search from the page's URL. */
export function filtersFromParams(p: URLSearchParams): AuditFilters {
  const f = { ...EMPTY_FILTERS };
  for (const k of AUDIT_FILTER_KEYS) {
    f[k] = p.get(k) ?? '';
  }
  return f;
}

/** filtersToParams is the search as URL parameters, leaving out the empty ones. */
export function filtersToParams(f: AuditFilters): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of AUDIT_FILTER_KEYS) {
    const v = f[k].trim();
    if (v) {
      p.set(k, v);
    }
  }
  return p;
}

/** normalizeAction completes a known short event type ("AgentStateChanged") to its full name. */
export function normalizeAction(action: string): string {
  const a = action.trim();
  if (a === '' || a.includes('.')) {
    return a;
  }
  return KNOWN_ACTIONS.find((k) => k.endsWith(`.${a}`)) ?? a;
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * localInputToRFC3339 turns a datetime-local value ("2026-01-02T10:30", the
 * user's local time) into RFC 3339 in UTC; undefined when empty or invalid.
 */
export function localInputToRFC3339(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) {
    return undefined;
  }
  const d = new Date(value); // no zone: local time
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace('.000Z', 'Z');
}

/** rfc3339ToLocalInput is the datetime-local value (local time) of an RFC 3339 time; "" when invalid. */
export function rfc3339ToLocalInput(value: string): string {
  if (!value) {
    return '';
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    return '';
  }
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.getSeconds() === 0 ? base : `${base}:${pad(d.getSeconds())}`;
}

/** The resource prefix the agent scope puts on the search. */
export function scopeResource(scope: Scope): string | undefined {
  return scope.kind === 'agent' ? `agents/${scope.id}` : undefined;
}

/**
 * searchParamsOf is the request a search sends: the form's fields, with the
 * scope's resource prefix when the form names none (and the scope is applied).
 */
export function searchParamsOf(f: AuditFilters, scopePrefix: string | undefined): SearchEntriesParams {
  const orUndef = (s: string) => (s.trim() === '' ? undefined : s.trim());
  return {
    actor: orUndef(f.actor),
    action: orUndef(normalizeAction(f.action)),
    resource: orUndef(f.resource) ?? scopePrefix,
    outcome: orUndef(f.outcome),
    startTime: orUndef(f.from),
    endTime: orUndef(f.to),
    query: orUndef(f.q),
  };
}

const DAY = 24 * 60 * 60 * 1000;
/** The longest range the server exports at once (audit.MaxExportRange). */
export const MAX_EXPORT_MS = 366 * DAY;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/**
 * exportRange is the time range the export links ask for: the search's,
 * with what it leaves open filled in — up to a day from now, and back a
 * year — within the server's 366 days.
 */
export function exportRange(f: AuditFilters, now: number): { start: string; end: string; problem?: string } {
  const from = f.from ? Date.parse(f.from) : NaN;
  const to = f.to ? Date.parse(f.to) : NaN;
  const hasFrom = !Number.isNaN(from);
  const hasTo = !Number.isNaN(to);
  let end: number;
  let start: number;
  if (hasFrom && hasTo) {
    start = from;
    end = to;
    // The server would refuse these: say so by the links instead of downloading an error.
    if (end <= start) {
      return { start: iso(start), end: iso(end), problem: 'the search’s “to” time must be after its “from” time' };
    }
    if (end - start > MAX_EXPORT_MS) {
      return { start: iso(start), end: iso(end), problem: 'at most 366 days can be exported at once' };
    }
  } else if (hasFrom) {
    start = from;
    end = Math.min(now + DAY, from + MAX_EXPORT_MS);
  } else if (hasTo) {
    end = to;
    start = end - MAX_EXPORT_MS;
  } else {
    end = now + DAY;
    start = end - MAX_EXPORT_MS;
  }
  return { start: iso(start), end: iso(end) };
}

/** b64ToHex turns protojson bytes (base64) into hex, as the export shows hashes. */
export function b64ToHex(b64: string | undefined): string {
  if (!b64) {
    return '';
  }
  try {
    const bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/'));
    let out = '';
    for (let i = 0; i < bin.length; i++) {
      out += bin.charCodeAt(i).toString(16).padStart(2, '0');
    }
    return out;
  } catch {
    return b64;
  }
}

/** The tone of an outcome's badge. */
export function outcomeTone(outcome: string | undefined): 'success' | 'warning' | 'error' | 'unknown' {
  switch (outcome) {
    case 'success':
      return 'success';
    case 'denied':
      return 'warning';
    case 'failure':
      return 'error';
    default:
      return 'unknown';
  }
}

/** nonEmpty is the string, or undefined when it is missing or empty (protojson leaves "" for unset). */
export function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/** The agent id of an "agents/<id>" resource. */
export function agentOfResource(resource: string | undefined): string | undefined {
  const m = /^agents\/([^/]+)$/.exec(resource ?? '');
  return m?.[1];
}
