// The events page's logic, apart from React: the feed (history merged with
// live events, paused or not, bounded), the filters and their URL form,
// the global scope applied to events, and each event's one-line summary.
import { eventAgent } from '../../api/agents';
import type { StreamEvent } from '../../api/ws';
import { CUSTOMER_LABEL, type Scope } from '../../app/scope';
import type {
  AgentCreatedJson,
  AgentDeletedJson,
  AgentStateChangedJson,
  AgentUpdatedJson,
  BulkOperationProgressJson,
  OperationChangedJson,
} from '../../gen/portal/agents/v1/events_pb';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import type {
  AccessDeniedJson,
  GrantChangedJson,
  LoggedInJson,
  LoggedOutJson,
  LoginFailedJson,
  TokenCreatedJson,
  TokenRevokedJson,
  TokenUsedJson,
  UserRoleChangedJson,
} from '../../gen/portal/identity/v1/events_pb';
import type { InstanceChangedJson, WorkloadFailedJson } from '../../gen/portal/provisioning/v1/provisioning_pb';

/** The most events the page holds (shown, and held back while paused, each). */
export const MAX_EVENTS = 1000;
/** How many past events the page starts with. */
export const HISTORY_LIMIT = 200;

// --- the feed ---

export interface FeedState {
  /** Shown, newest first. */
  items: StreamEvent[];
  /** Arrived while paused, newest first; shown on resume. */
  pending: StreamEvent[];
  /** How many arrived while paused (pending keeps only the newest MAX_EVENTS). */
  pendingCount: number;
  paused: boolean;
  /** The highest seq held or covered by the history: anything at or below it is a duplicate. */
  floor: number;
  historyLoaded: boolean;
}

export type FeedAction =
  | { type: 'history'; events: readonly StreamEvent[]; head: number }
  | { type: 'event'; event: StreamEvent }
  | { type: 'pause' }
  | { type: 'resume' };

export const initialFeed: FeedState = {
  items: [],
  pending: [],
  pendingCount: 0,
  paused: false,
  floor: 0,
  historyLoaded: false,
};

/** mergeNewestFirst joins two lists of events, without duplicates (by seq), newest first, at most max. */
export function mergeNewestFirst(a: readonly StreamEvent[], b: readonly StreamEvent[], max = MAX_EVENTS): StreamEvent[] {
  const bySeq = new Map<number, StreamEvent>();
  for (const e of [...a, ...b]) {
    if (!bySeq.has(e.seq)) {
      bySeq.set(e.seq, e);
    }
  }
  return [...bySeq.values()].sort((x, y) => y.seq - x.seq).slice(0, max);
}

export function feedReducer(state: FeedState, action: FeedAction): FeedState {
  switch (action.type) {
    case 'history': {
      // Live events may have come in while the history was read; the ones
      // it also holds are dropped by seq.
      const items = mergeNewestFirst(state.items, action.events);
      const top = items[0]?.seq ?? 0;
      return { ...state, items, floor: Math.max(state.floor, action.head, top), historyLoaded: true };
    }
    case 'event': {
      const e = action.event;
      if (typeof e.seq !== 'number' || e.seq <= state.floor) {
        return state;
      }
      if (state.paused) {
        return {
          ...state,
          floor: e.seq,
          pending: [e, ...state.pending].slice(0, MAX_EVENTS),
          pendingCount: state.pendingCount + 1,
        };
      }
      return { ...state, floor: e.seq, items: [e, ...state.items].slice(0, MAX_EVENTS) };
    }
    case 'pause':
      return state.paused ? state : { ...state, paused: true };
    case 'resume':
      return {
        ...state,
        paused: false,
        items: mergeNewestFirst(state.pending, state.items),
        pending: [],
        pendingCount: 0,
      };
  }
}

// --- names ---

/** collectionOf is a subject's collection: "agents" of "agents/<id>". */
export function collectionOf(subject: string): string {
  const slash = subject.indexOf('/');
  return slash < 0 ? subject : subject.slice(0, slash);
}

/** shortType is the name after the last dot: "AgentStateChanged" of "portal.agents.v1.AgentStateChanged". */
export function shortType(eventType: string): string {
  return eventType.slice(eventType.lastIndexOf('.') + 1);
}

/** The agent id of an "agents/<id>" subject. */
export function agentIdOf(subject: string): string | undefined {
  return subject.startsWith('agents/') && subject.length > 'agents/'.length ? subject.slice('agents/'.length) : undefined;
}

/** The first of the strings that is there and not empty (protojson sends "" for unset ones). */
function firstOf(...values: (string | undefined)[]): string | undefined {
  return values.find((v) => v !== undefined && v !== '');
}

/** What the page has learnt of an agent from the events that carried it. */
export interface AgentFacts {
  name: string | undefined;
  customer: string | undefined;
}

/**
 * agentIndex learns each agent's name and customer label from the events
 * that carry the agent (newest first, so the newest wins), for the events
 * that only name it in their subject (an operation, an instance).
 */
export function agentIndex(events: readonly StreamEvent[]): Map<string, AgentFacts> {
  const index = new Map<string, AgentFacts>();
  for (const e of events) {
    const a = eventAgent(e);
    const id = a?.id ?? agentIdOf(e.subject);
    if (!a || !id || index.has(id)) {
      continue;
    }
    index.set(id, { name: firstOf(a.displayName, a.name), customer: a.labels?.[CUSTOMER_LABEL] });
  }
  return index;
}

// --- filters ---

export interface EventFilters {
  /** The subject's collection ("agents"), or "" for all. */
  collection: string;
  /** The short event type ("AgentStateChanged"), or "" for all. */
  type: string;
  /** Free text, matched against the type, the subject and the payload. */
  q: string;
}

export const NO_FILTERS: EventFilters = { collection: '', type: '', q: '' };

/** filtersFromParams reads the filters from the page's URL search parameters. */
export function filtersFromParams(p: URLSearchParams): EventFilters {
  return { collection: p.get('collection') ?? '', type: p.get('type') ?? '', q: p.get('q') ?? '' };
}

/** filtersToParams writes the filters into a copy of params, leaving out the empty ones. */
export function filtersToParams(f: EventFilters, params: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const key of ['collection', 'type', 'q'] as const) {
    const v = f[key];
    if (v) {
      next.set(key, v);
    } else {
      next.delete(key);
    }
  }
  return next;
}

export function hasFilters(f: EventFilters): boolean {
  return f.collection !== '' || f.type !== '' || f.q.trim() !== '';
}

// Each payload's JSON is made once, not on every keystroke of the filter.
const payloadCache = new WeakMap<StreamEvent, string>();

/** payloadText is the event's payload as lower-case JSON, for the text filter. */
export function payloadText(e: StreamEvent): string {
  let s = payloadCache.get(e);
  if (s === undefined) {
    s = e.data === undefined ? '' : JSON.stringify(e.data).toLowerCase();
    payloadCache.set(e, s);
  }
  return s;
}

/** matchesFilters reports whether an event passes the page's filters. */
export function matchesFilters(e: StreamEvent, f: EventFilters): boolean {
  if (f.collection && collectionOf(e.subject) !== f.collection) {
    return false;
  }
  if (f.type && shortType(e.eventType) !== f.type) {
    return false;
  }
  const q = f.q.trim().toLowerCase();
  if (q) {
    return e.eventType.toLowerCase().includes(q) || e.subject.toLowerCase().includes(q) || payloadText(e).includes(q);
  }
  return true;
}

/**
 * matchesScope reports whether an event belongs to the global scope: for an
 * agent, the events about it (subject agents/<id>); for a customer, the
 * events whose agent carries the customer label, including those that only
 * name an agent known (from other events) to be the customer's.
 */
export function matchesScope(e: StreamEvent, scope: Scope, index: ReadonlyMap<string, AgentFacts>): boolean {
  switch (scope.kind) {
    case 'all':
      return true;
    case 'agent':
      return e.subject === `agents/${scope.id}`;
    case 'customer': {
      const a = eventAgent(e);
      if (a) {
        return a.labels?.[CUSTOMER_LABEL] === scope.customer;
      }
      const id = agentIdOf(e.subject);
      return id !== undefined && index.get(id)?.customer === scope.customer;
    }
  }
}

/** The distinct values of key over the events, sorted, with keep included (a filter from the URL). */
export function distinct(events: readonly StreamEvent[], key: (e: StreamEvent) => string, keep = ''): string[] {
  const set = new Set<string>();
  for (const e of events) {
    const v = key(e);
    if (v) {
      set.add(v);
    }
  }
  if (keep) {
    set.add(keep);
  }
  return [...set].sort((a, b) => a.localeCompare(b));
}

// --- summaries ---

/** The short, lower-case form of an enum value: "running" of "AGENT_STATE_RUNNING" with prefix "AGENT_STATE_". */
function enumWord(value: string | undefined, prefix: string): string {
  return (value ?? `${prefix}UNSPECIFIED`).replace(prefix, '').toLowerCase().replace(/_/g, ' ');
}

function stateWord(value: string | undefined): string {
  return enumWord(value, 'AGENT_STATE_').toUpperCase();
}

function by(actor: string | undefined): string {
  return actor ? ` (by ${actor})` : '';
}

function agentName(a: AgentJson | undefined): string {
  return firstOf(a?.displayName, a?.name, a?.id) ?? 'agent';
}

/**
 * summarize is an event's one line: what happened and who did it, e.g.
 * "state RUNNING → STOPPED (by dev:olga@example.com)". Events the page does
 * not know get their source.
 */
export function summarize(e: StreamEvent): string {
  const d: unknown = e.data ?? {};
  const pkg = e.eventType.slice(0, e.eventType.lastIndexOf('.'));
  const type = shortType(e.eventType);
  if (pkg === 'portal.agents.v1') {
    switch (type) {
      case 'AgentStateChanged': {
        const t = (d as AgentStateChangedJson).transition;
        const reason = t?.reason ? `: ${t.reason}` : '';
        return `state ${stateWord(t?.fromState)} → ${stateWord(t?.toState)}${reason}${by(t?.actor)}`;
      }
      case 'AgentCreated': {
        const c = d as AgentCreatedJson;
        return `created ${agentName(c.agent)}${by(c.actor)}`;
      }
      case 'AgentUpdated': {
        const u = d as AgentUpdatedJson;
        const fields = u.changedFields?.length ? u.changedFields.join(', ') : 'fields';
        return `updated ${fields}${by(u.actor)}`;
      }
      case 'AgentDeleted': {
        const x = d as AgentDeletedJson;
        return `deleted ${agentName(x.agent)}${by(x.actor)}`;
      }
      case 'OperationChanged': {
        const op = (d as OperationChangedJson).operation;
        const what = `${enumWord(op?.action, 'AGENT_ACTION_')} ${enumWord(op?.status, 'OPERATION_STATUS_')}`;
        const why = op?.error?.message ? `: ${op.error.message}` : `: ${stateWord(op?.fromState)} → ${stateWord(op?.targetState)}`;
        return `${what}${why}${by(op?.actor)}`;
      }
      case 'BulkOperationProgress': {
        const p = d as BulkOperationProgressJson;
        const b = p.bulkOperation;
        const action = enumWord(b?.action, 'AGENT_ACTION_');
        const r = p.result;
        if (r?.agentId) {
          return `bulk ${action}: ${firstOf(r.name, r.agentId) ?? ''} ${(r.outcome ?? '').replace(/_/g, ' ')}${r.reason ? `: ${r.reason}` : ''}`;
        }
        return (
          `bulk ${action} ${enumWord(b?.status, 'BULK_STATUS_')}: ` +
          `${b?.succeeded ?? 0} succeeded, ${b?.failed ?? 0} failed, ${b?.skipped ?? 0} skipped${by(b?.actor)}`
        );
      }
    }
  }
  if (pkg === 'portal.provisioning.v1') {
    switch (type) {
      case 'InstanceChanged': {
        const c = d as InstanceChangedJson;
        const state = c.instance?.state ?? 'changed';
        return `instance ${c.instance?.id ?? ''} ${state}${c.reason ? ` (${c.reason})` : ''}`.replace(/\s+/g, ' ');
      }
      case 'WorkloadFailed': {
        const f = (d as WorkloadFailedJson).failure;
        return `workload failed: ${[f?.code, f?.message].filter(Boolean).join(': ') || 'no details'}`;
      }
    }
  }
  if (pkg === 'portal.identity.v1') {
    switch (type) {
      case 'LoggedIn': {
        const p = (d as LoggedInJson).principal;
        const who = firstOf(p?.email, p?.name, p?.subject) ?? 'someone';
        return `${who} logged in${p?.devLogin ? ' (development login)' : ''}`;
      }
      case 'LoginFailed': {
        const f = d as LoginFailedJson;
        return `login failed${f.email ? ` for ${f.email}` : ''}: ${f.reason ?? 'no reason given'}`;
      }
      case 'LoggedOut':
        return `session ended (${firstOf((d as LoggedOutJson).reason) ?? 'logout'})`;
      case 'AccessDenied': {
        const a = d as AccessDeniedJson;
        return `${a.status ?? ''} ${a.method ?? ''} ${a.path ?? ''}${a.reason ? `: ${a.reason}` : ''}`.trim();
      }
      case 'TokenUsed': {
        const u = d as TokenUsedJson;
        return `token ${u.token?.name ?? ''} used${u.remoteAddr ? ` from ${u.remoteAddr}` : ''}`;
      }
      case 'TokenCreated': {
        const t = (d as TokenCreatedJson).token;
        return `token ${t?.name ?? ''} created, role ${enumWord(t?.role, 'ROLE_')}${by(t?.creator)}`;
      }
      case 'TokenRevoked':
        return `token ${(d as TokenRevokedJson).token?.name ?? ''} revoked`;
      case 'UserRoleChanged': {
        const u = (d as UserRoleChangedJson).user;
        const role = u?.assignedRole && u.assignedRole !== 'ROLE_UNSPECIFIED' ? enumWord(u.assignedRole, 'ROLE_') : 'none assigned';
        return `${firstOf(u?.email, u?.name) ?? 'user'} role: ${role}`;
      }
      case 'GrantChanged': {
        const g = (d as GrantChangedJson).grant;
        return `grant of ${enumWord(g?.role, 'ROLE_')} to ${g?.userEmail ?? 'a user'}: ${enumWord(g?.state, 'GRANT_STATE_')}${by(g?.decidedBy)}`;
      }
    }
  }
  return e.source ? `from ${e.source}` : '';
}
