import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../api/ws';
import type { AgentJson, AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import { computeSeries, CREATED, DELETED, eventTime, MINUTE_MS, STATE_CHANGED, sumRecent, trendOf, UPDATED } from './series';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const ago = (min: number) => NOW - min * MINUTE_MS;
const iso = (ms: number) => new Date(ms).toISOString();

const acme = { customer: 'acme' };
const globex = { customer: 'globex' };

let seq = 0;
function ev(eventType: string, at: number, data: unknown): StreamEvent {
  seq++;
  return { type: 'event', seq, id: `e${seq}`, eventType, source: 'portal/agents', subject: 'agents/x', time: iso(at), data };
}
function changed(agent: AgentJson, from: AgentStateJson, to: AgentStateJson, at: number): StreamEvent {
  return ev(STATE_CHANGED, at, {
    agent: { ...agent, state: to },
    transition: { agentId: agent.id, fromState: from, toState: to, time: iso(at) },
  });
}
const created = (agent: AgentJson, at: number) => ev(CREATED, at, { agent: { ...agent, state: 'AGENT_STATE_DRAFT' } });
const deleted = (agent: AgentJson, at: number) => ev(DELETED, at, { agent });

const a1: AgentJson = { id: 'a1', name: 'one', state: 'AGENT_STATE_RUNNING', labels: acme };
const a2: AgentJson = { id: 'a2', name: 'two', state: 'AGENT_STATE_ERRORED', labels: acme };
const a3: AgentJson = { id: 'a3', name: 'three', state: 'AGENT_STATE_RUNNING', labels: globex };

/** The points at "minutes ago" m (0 = now) of a 60-minute series. */
const at = (points: readonly (number | null)[], m: number) => points[60 - m];

describe('computeSeries', () => {
  it('with no events is flat at the current counts, one point a minute ending now', () => {
    const s = computeSeries({ now: NOW, agents: [a1, a2, a3], events: [], scope: { kind: 'all' } });
    expect(s.times).toHaveLength(61);
    expect(s.times.at(-1)).toBe(NOW / 1000);
    expect(s.times[0]).toBe(NOW / 1000 - 3600);
    expect((s.times[1] ?? 0) - (s.times[0] ?? 0)).toBe(60);
    expect(new Set(s.total)).toEqual(new Set([3]));
    expect(new Set(s.running)).toEqual(new Set([2]));
    expect(new Set(s.inError)).toEqual(new Set([1]));
    expect(new Set(s.changes)).toEqual(new Set([0]));
  });

  it('with no agents and no events is all zeros', () => {
    const s = computeSeries({ now: NOW, agents: [], events: [], scope: { kind: 'all' } });
    expect(s.total.every((p) => p === 0)).toBe(true);
    expect(s.running.every((p) => p === 0)).toBe(true);
  });

  it('walks a state change back: before it the agent was in its former state', () => {
    // a2 went RUNNING → ERRORED 30 minutes ago.
    const s = computeSeries({
      now: NOW,
      agents: [a1, a2],
      events: [changed(a2, 'AGENT_STATE_RUNNING', 'AGENT_STATE_ERRORED', ago(30))],
      scope: { kind: 'all' },
    });
    expect(at(s.running, 0)).toBe(1);
    expect(at(s.inError, 0)).toBe(1);
    expect(at(s.running, 30)).toBe(1); // the change happened at that very point
    expect(at(s.running, 31)).toBe(2);
    expect(at(s.inError, 31)).toBe(0);
    expect(at(s.running, 60)).toBe(2);
    expect(new Set(s.total)).toEqual(new Set([2]));
    // One change, in the minute up to 30 minutes ago.
    expect(at(s.changes, 30)).toBe(1);
    expect(sumRecent(s.changes)).toBe(1);
    expect(trendOf(s.running)).toBe(-1);
    expect(trendOf(s.inError)).toBe(1);
  });

  it('follows one agent through several transitions', () => {
    const a: AgentJson = { id: 'a9', state: 'AGENT_STATE_RUNNING' };
    const s = computeSeries({
      now: NOW,
      agents: [a],
      events: [
        created(a, ago(50)),
        changed(a, 'AGENT_STATE_DRAFT', 'AGENT_STATE_PROVISIONED', ago(40)),
        changed(a, 'AGENT_STATE_PROVISIONED', 'AGENT_STATE_DEPLOYED', ago(40) + 5_000),
        changed(a, 'AGENT_STATE_DEPLOYED', 'AGENT_STATE_RUNNING', ago(20)),
        changed(a, 'AGENT_STATE_RUNNING', 'AGENT_STATE_ERRORED', ago(10)),
        changed(a, 'AGENT_STATE_ERRORED', 'AGENT_STATE_RUNNING', ago(5)),
      ],
      scope: { kind: 'all' },
    });
    expect(at(s.total, 55)).toBe(0); // not created yet
    expect(at(s.total, 45)).toBe(1);
    expect(at(s.running, 45)).toBe(0);
    expect(at(s.running, 15)).toBe(1);
    expect(at(s.inError, 7)).toBe(1);
    expect(at(s.running, 7)).toBe(0);
    expect(at(s.running, 0)).toBe(1);
    expect(at(s.inError, 0)).toBe(0);
    // One change at 40 minutes ago exactly, the next 5 s later: in the next minute.
    expect(at(s.changes, 40)).toBe(1);
    expect(at(s.changes, 39)).toBe(1);
    expect(sumRecent(s.changes)).toBe(5);
    expect(trendOf(s.total)).toBe(1);
  });

  it('counts an agent created inside the window only from its creation', () => {
    const fresh: AgentJson = { id: 'n1', state: 'AGENT_STATE_DRAFT', labels: acme };
    const s = computeSeries({ now: NOW, agents: [a1, fresh], events: [created(fresh, ago(20))], scope: { kind: 'all' } });
    expect(at(s.total, 0)).toBe(2);
    expect(at(s.total, 20)).toBe(2);
    expect(at(s.total, 21)).toBe(1);
    expect(trendOf(s.total)).toBe(1);
    // A creation is not a state change.
    expect(sumRecent(s.changes)).toBe(0);
  });

  it('counts an agent deleted inside the window until its deletion, in its last state', () => {
    const gone: AgentJson = { id: 'd1', state: 'AGENT_STATE_ERRORED', labels: acme };
    const s = computeSeries({ now: NOW, agents: [a1], events: [deleted(gone, ago(10))], scope: { kind: 'all' } });
    expect(at(s.total, 0)).toBe(1);
    expect(at(s.total, 11)).toBe(2);
    expect(at(s.inError, 11)).toBe(1);
    expect(at(s.inError, 0)).toBe(0);
    expect(trendOf(s.total)).toBe(-1);
  });

  it('an agent created and deleted inside the window counts only between the two', () => {
    const brief: AgentJson = { id: 'b1', state: 'AGENT_STATE_RUNNING' };
    const s = computeSeries({
      now: NOW,
      agents: [],
      events: [
        created(brief, ago(40)),
        changed(brief, 'AGENT_STATE_DRAFT', 'AGENT_STATE_RUNNING', ago(30)),
        deleted(brief, ago(20)),
      ],
      scope: { kind: 'all' },
    });
    expect(at(s.total, 45)).toBe(0);
    expect(at(s.total, 35)).toBe(1);
    expect(at(s.running, 35)).toBe(0);
    expect(at(s.running, 25)).toBe(1);
    expect(at(s.total, 15)).toBe(0);
    expect(at(s.running, 15)).toBe(0);
    expect(at(s.total, 0)).toBe(0);
  });

  it('leaves out events for agents outside a customer scope', () => {
    const s = computeSeries({
      now: NOW,
      agents: [a1, a2, a3],
      events: [
        changed(a3, 'AGENT_STATE_STOPPED', 'AGENT_STATE_RUNNING', ago(10)), // globex
        changed(a1, 'AGENT_STATE_STOPPED', 'AGENT_STATE_RUNNING', ago(20)), // acme
        deleted({ id: 'g2', state: 'AGENT_STATE_RUNNING', labels: globex }, ago(5)),
      ],
      scope: { kind: 'customer', customer: 'acme' },
    });
    // a3 is globex's: not counted even though it is in the list given.
    expect(at(s.total, 0)).toBe(2);
    expect(at(s.running, 0)).toBe(1);
    expect(at(s.running, 21)).toBe(0);
    expect(at(s.total, 30)).toBe(2);
    expect(sumRecent(s.changes)).toBe(1);
  });

  it('narrows to one agent for an agent scope', () => {
    const s = computeSeries({
      now: NOW,
      agents: [a1, a2],
      events: [
        changed(a1, 'AGENT_STATE_SUSPENDED', 'AGENT_STATE_RUNNING', ago(3)),
        changed(a2, 'AGENT_STATE_RUNNING', 'AGENT_STATE_ERRORED', ago(3)),
      ],
      scope: { kind: 'agent', id: 'a1', name: 'one' },
    });
    expect(at(s.total, 0)).toBe(1);
    expect(at(s.running, 0)).toBe(1);
    expect(at(s.running, 4)).toBe(0);
    expect(new Set(s.inError)).toEqual(new Set([0]));
    expect(sumRecent(s.changes)).toBe(1);
  });

  it('ignores events older than the window, other event types and events without an agent', () => {
    const s = computeSeries({
      now: NOW,
      agents: [a1],
      events: [
        changed(a1, 'AGENT_STATE_STOPPED', 'AGENT_STATE_RUNNING', ago(90)),
        ev(UPDATED, ago(5), { agent: { ...a1, labels: globex } }),
        ev('portal.agents.v1.OperationChanged', ago(5), { operation: { agentId: 'a1' } }),
        ev(STATE_CHANGED, ago(5), { transition: { fromState: 'AGENT_STATE_STOPPED' } }),
        {
          ...ev(STATE_CHANGED, ago(5), { agent: a1, transition: { fromState: 'AGENT_STATE_STOPPED' } }),
          time: 'garbage',
        },
      ],
      scope: { kind: 'all' },
    });
    expect(new Set(s.running)).toEqual(new Set([1]));
    expect(sumRecent(s.changes)).toBe(0);
  });

  it('takes events in any order', () => {
    const a: AgentJson = { id: 'o1', state: 'AGENT_STATE_STOPPED' };
    const events = [
      changed(a, 'AGENT_STATE_RUNNING', 'AGENT_STATE_STOPPED', ago(10)),
      changed(a, 'AGENT_STATE_DEPLOYED', 'AGENT_STATE_RUNNING', ago(30)),
    ];
    const s = computeSeries({ now: NOW, agents: [a], events: [...events].reverse(), scope: { kind: 'all' } });
    expect(at(s.running, 5)).toBe(0);
    expect(at(s.running, 20)).toBe(1);
    expect(at(s.running, 40)).toBe(0);
  });

  it('keeps the last point current when an event is stamped after now (another clock)', () => {
    const s = computeSeries({
      now: NOW,
      agents: [a1],
      events: [changed(a1, 'AGENT_STATE_STOPPED', 'AGENT_STATE_RUNNING', NOW + 4_000)],
      scope: { kind: 'all' },
    });
    expect(at(s.running, 0)).toBe(1);
    expect(at(s.running, 1)).toBe(0);
    expect(at(s.changes, 0)).toBe(1);
  });

  it('leaves the points before the complete history unknown', () => {
    const s = computeSeries({
      now: NOW,
      agents: [a1],
      events: [changed(a1, 'AGENT_STATE_STOPPED', 'AGENT_STATE_RUNNING', ago(10))],
      scope: { kind: 'all' },
      completeFrom: ago(15),
    });
    expect(at(s.running, 16)).toBeNull();
    expect(at(s.running, 15)).toBe(0);
    expect(at(s.running, 0)).toBe(1);
    // The minute up to 15 minutes ago starts before the history: unknown.
    expect(at(s.changes, 15)).toBeNull();
    expect(at(s.changes, 14)).toBe(0);
    expect(at(s.changes, 10)).toBe(1);
    expect(trendOf(s.running)).toBeUndefined();
    expect(sumRecent(s.changes)).toBe(1);
  });

  it('counts untracked agents (beyond the list page) in the totals only', () => {
    const s = computeSeries({ now: NOW, agents: [a1], untracked: 4, events: [], scope: { kind: 'all' } });
    expect(at(s.total, 0)).toBe(5);
    expect(at(s.running, 0)).toBe(1);
  });

  it('skips a state change for an agent it does not know (beyond the list page)', () => {
    const other: AgentJson = { id: 'zz', state: 'AGENT_STATE_RUNNING' };
    const s = computeSeries({
      now: NOW,
      agents: [a1],
      events: [changed(other, 'AGENT_STATE_STOPPED', 'AGENT_STATE_RUNNING', ago(5))],
      scope: { kind: 'all' },
    });
    expect(new Set(s.running)).toEqual(new Set([1]));
    expect(new Set(s.total)).toEqual(new Set([1]));
    // Still a state change in the scope.
    expect(sumRecent(s.changes)).toBe(1);
  });

  it('supports a shorter window', () => {
    const s = computeSeries({ now: NOW, agents: [a1], events: [], scope: { kind: 'all' }, minutes: 5 });
    expect(s.times).toHaveLength(6);
  });
});

describe('eventTime', () => {
  it("is the transition's time for a state change, else the event's", () => {
    const e = changed(a1, 'AGENT_STATE_STOPPED', 'AGENT_STATE_RUNNING', ago(3));
    expect(eventTime({ ...e, time: iso(ago(1)) })).toBe(ago(3));
    expect(eventTime(created(a1, ago(2)))).toBe(ago(2));
    expect(eventTime({ ...created(a1, 0), time: 'nope' })).toBeNaN();
  });
});

describe('trendOf and sumRecent', () => {
  it('compare the ends and add up the last hour', () => {
    expect(trendOf([1, 2, 5])).toBe(4);
    expect(trendOf([null, 2, 5])).toBeUndefined();
    expect(trendOf([])).toBeUndefined();
    expect(sumRecent([9, 1, null, 2])).toBe(3);
  });
});
