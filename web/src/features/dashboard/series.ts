// The dashboard's per-minute history of the last hour, rebuilt from the
// agents' events: the counts now (the live agent list) minus what the events
// after each minute changed. Pure, so it is tested on its own.
//
// A stopgap: the metrics service (a later issue) will keep stored series,
// and the dashboard will read those instead of deriving them here.
import { eventAgent } from '../../api/agents';
import type { StreamEvent } from '../../api/ws';
import { inScope, type Scope } from '../../app/scope';
import type { AgentJson, AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import type { AgentDeletedJson, AgentStateChangedJson } from '../../gen/portal/agents/v1/events_pb';

export const MINUTE_MS = 60_000;
export const WINDOW_MINUTES = 60;

export const EVENT_PREFIX = 'portal.agents.v1.';
export const STATE_CHANGED = `${EVENT_PREFIX}AgentStateChanged`;
export const CREATED = `${EVENT_PREFIX}AgentCreated`;
export const DELETED = `${EVENT_PREFIX}AgentDeleted`;
export const UPDATED = `${EVENT_PREFIX}AgentUpdated`;
export const BULK_PROGRESS = `${EVENT_PREFIX}BulkOperationProgress`;

/** The states counted as "in error". */
export const ERROR_STATES: readonly AgentStateJson[] = ['AGENT_STATE_ERRORED'];
export const RUNNING: AgentStateJson = 'AGENT_STATE_RUNNING';

export type Point = number | null;

export interface SeriesInput {
  /** The current time, ms. */
  now: number;
  /** The agents in the scope as they are now (the live list). */
  agents: readonly Pick<AgentJson, 'id' | 'labels' | 'state'>[];
  /**
   * Agents in the scope that are not in `agents` (the list stops at its page
   * size): they count in the totals, their states are unknown.
   */
  untracked?: number;
  /** The stream's agent events, any order, any scope. */
  events: readonly StreamEvent[];
  scope: Scope;
  /**
   * Where the events are known to be complete from, ms: a point before it
   * is null (unknown). Undefined when they cover the whole window.
   */
  completeFrom?: number | undefined;
  minutes?: number;
}

export interface Series {
  /** The points' times, unix seconds: one a minute, the last one now. */
  times: number[];
  /** Agents in the scope. */
  total: Point[];
  running: Point[];
  /** Agents in an error state. */
  inError: Point[];
  /** State changes in the minute up to each point. */
  changes: Point[];
}

/** When an event happened, ms (the transition's own time for a state change); NaN when unknown. */
export function eventTime(e: StreamEvent): number {
  if (e.eventType === STATE_CHANGED) {
    const t = (e.data as AgentStateChangedJson | undefined)?.transition?.time;
    if (t) {
      const ms = Date.parse(t);
      if (!Number.isNaN(ms)) {
        return ms;
      }
    }
  }
  return Date.parse(e.time);
}

interface Tally {
  states: Map<string, AgentStateJson | undefined>;
  running: number;
  inError: number;
}

function count(t: Tally, state: AgentStateJson | undefined, by: number): void {
  if (state === RUNNING) {
    t.running += by;
  }
  if (state !== undefined && ERROR_STATES.includes(state)) {
    t.inError += by;
  }
}

function set(t: Tally, id: string, state: AgentStateJson | undefined): void {
  if (t.states.has(id)) {
    count(t, t.states.get(id), -1);
  }
  t.states.set(id, state);
  count(t, state, 1);
}

function remove(t: Tally, id: string): void {
  if (t.states.has(id)) {
    count(t, t.states.get(id), -1);
    t.states.delete(id);
  }
}

/**
 * undo takes one event back: the tally becomes what it was just before it.
 * AgentUpdated is not undone: it carries no earlier labels, so an agent
 * that moved between customers counts in its customer of now throughout.
 */
function undo(t: Tally, e: StreamEvent, agent: AgentJson & { id: string }): void {
  switch (e.eventType) {
    case STATE_CHANGED: {
      // An agent unknown here (beyond the list's page) has nothing to undo.
      if (t.states.has(agent.id)) {
        set(t, agent.id, (e.data as AgentStateChangedJson | undefined)?.transition?.fromState);
      }
      break;
    }
    case CREATED:
      remove(t, agent.id);
      break;
    case DELETED:
      if (!t.states.has(agent.id)) {
        set(t, agent.id, (e.data as AgentDeletedJson | undefined)?.agent?.state);
      }
      break;
  }
}

/**
 * computeSeries rebuilds the last hour, minute by minute. Point i (of
 * minutes + 1) is the state at now - (minutes - i) minutes; the last is now.
 * Events outside the scope (by the agent they carry) are left out.
 */
export function computeSeries(input: SeriesInput): Series {
  const { now, scope } = input;
  const minutes = input.minutes ?? WINDOW_MINUTES;
  const untracked = Math.max(0, input.untracked ?? 0);
  const n = minutes + 1;
  const times = Array.from({ length: n }, (_, i) => Math.floor((now - (minutes - i) * MINUTE_MS) / 1000));
  const total: Point[] = new Array<Point>(n).fill(null);
  const running: Point[] = new Array<Point>(n).fill(null);
  const inError: Point[] = new Array<Point>(n).fill(null);
  const changes: Point[] = new Array<Point>(n).fill(null);

  const tally: Tally = { states: new Map(), running: 0, inError: 0 };
  for (const a of input.agents) {
    if (a.id && inScope(scope, a)) {
      set(tally, a.id, a.state);
    }
  }

  // The events that matter, newest first: undoing them in that order walks
  // every agent back through its own history.
  const relevant: { e: StreamEvent; at: number; agent: AgentJson & { id: string } }[] = [];
  for (const e of input.events) {
    if (e.eventType !== STATE_CHANGED && e.eventType !== CREATED && e.eventType !== DELETED) {
      continue;
    }
    const agent = eventAgent(e);
    const at = eventTime(e);
    if (!agent?.id || Number.isNaN(at) || !inScope(scope, agent)) {
      continue;
    }
    relevant.push({ e, at, agent: { ...agent, id: agent.id } });
  }
  relevant.sort((x, y) => y.at - x.at || y.e.seq - x.e.seq);

  const known = (i: number) => input.completeFrom === undefined || now - (minutes - i) * MINUTE_MS >= input.completeFrom;
  let next = 0;
  for (let i = n - 1; i >= 0; i--) {
    // The last point is now, whatever the clocks say: the list is current.
    if (i < n - 1) {
      const t = now - (minutes - i) * MINUTE_MS;
      for (let r = relevant[next]; r !== undefined && r.at > t; r = relevant[++next]) {
        undo(tally, r.e, r.agent);
      }
    }
    if (known(i)) {
      total[i] = tally.states.size + untracked;
      running[i] = tally.running;
      inError[i] = tally.inError;
    }
  }

  // State changes per minute: point i counts (t_i - 1 min, t_i]; the last
  // also takes anything stamped after now (another clock).
  for (let i = 0; i < n; i++) {
    if (known(i - 1)) {
      changes[i] = 0;
    }
  }
  for (const r of relevant) {
    if (r.e.eventType !== STATE_CHANGED) {
      continue;
    }
    const back = Math.floor((now - r.at) / MINUTE_MS);
    const i = n - 1 - Math.max(0, back);
    const c = i >= 0 ? changes[i] : undefined;
    if (c !== undefined && c !== null) {
      changes[i] = c + 1;
    }
  }
  return { times, total, running, inError, changes };
}

/** The change from the first known point to the last; undefined when either is unknown. */
export function trendOf(points: readonly Point[]): number | undefined {
  const first = points[0];
  const last = points.at(-1);
  return first === null || first === undefined || last === null || last === undefined ? undefined : last - first;
}

/** The sum of the known points after the first: the last `minutes` minutes of a per-minute series. */
export function sumRecent(points: readonly Point[]): number {
  return points.slice(1).reduce<number>((s, p) => s + (p ?? 0), 0);
}
