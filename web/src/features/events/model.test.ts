import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../api/ws';
import {
  agentIndex,
  collectionOf,
  distinct,
  feedReducer,
  filtersFromParams,
  filtersToParams,
  hasFilters,
  initialFeed,
  matchesFilters,
  matchesScope,
  MAX_EVENTS,
  mergeNewestFirst,
  NO_FILTERS,
  shortType,
  summarize,
  type FeedState,
} from './model';

const A1 = '01a2052c-b245-72f3-97b9-7ca366ee7b8f';
const A2 = '01a2052c-0000-72f3-97b9-7ca366ee7b8f';

function ev(seq: number, eventType: string, subject: string, data?: unknown): StreamEvent {
  return { type: 'event', seq, id: `e${seq}`, eventType, source: 'portal/test', subject, time: '2026-01-01T10:00:00Z', data };
}

const stateChanged = (seq: number, id = A1, customer = 'acme') =>
  ev(seq, 'portal.agents.v1.AgentStateChanged', `agents/${id}`, {
    agent: { id, name: `agent-${id.slice(0, 4)}`, displayName: '', labels: { customer } },
    transition: { fromState: 'AGENT_STATE_RUNNING', toState: 'AGENT_STATE_STOPPED', actor: 'dev:olga@example.com' },
  });

describe('the feed', () => {
  it('merges the history with live events by seq, newest first, and drops what it already has', () => {
    let s: FeedState = initialFeed;
    // Live events may arrive before the history answer.
    s = feedReducer(s, { type: 'event', event: ev(5, 'x.A', 'agents/a') });
    s = feedReducer(s, { type: 'history', events: [ev(3, 'x.A', 'a/1'), ev(4, 'x.A', 'a/1'), ev(5, 'x.A', 'agents/a')], head: 5 });
    expect(s.items.map((e) => e.seq)).toEqual([5, 4, 3]);
    expect(s.historyLoaded).toBe(true);
    // A replay of something held is dropped; a newer one goes on top.
    s = feedReducer(s, { type: 'event', event: ev(4, 'x.A', 'a/1') });
    expect(s.items).toHaveLength(3);
    s = feedReducer(s, { type: 'event', event: ev(6, 'x.A', 'a/1') });
    expect(s.items.map((e) => e.seq)).toEqual([6, 5, 4, 3]);
  });

  it('drops events at or below the head the history was read to, even ones it did not return', () => {
    let s = feedReducer(initialFeed, { type: 'history', events: [ev(2, 'x.A', 'a/1')], head: 9 });
    s = feedReducer(s, { type: 'event', event: ev(9, 'x.A', 'a/1') });
    expect(s.items.map((e) => e.seq)).toEqual([2]);
    s = feedReducer(s, { type: 'event', event: ev(10, 'x.A', 'a/1') });
    expect(s.items.map((e) => e.seq)).toEqual([10, 2]);
  });

  it('holds and counts events while paused, and shows them on resume', () => {
    let s = feedReducer(initialFeed, { type: 'history', events: [ev(1, 'x.A', 'a/1')], head: 1 });
    s = feedReducer(s, { type: 'pause' });
    s = feedReducer(s, { type: 'event', event: ev(2, 'x.A', 'a/1') });
    s = feedReducer(s, { type: 'event', event: ev(3, 'x.A', 'a/1') });
    s = feedReducer(s, { type: 'event', event: ev(3, 'x.A', 'a/1') });
    expect(s.items.map((e) => e.seq)).toEqual([1]);
    expect(s.pendingCount).toBe(2);
    s = feedReducer(s, { type: 'resume' });
    expect(s.items.map((e) => e.seq)).toEqual([3, 2, 1]);
    expect(s.pendingCount).toBe(0);
    expect(s.pending).toEqual([]);
    expect(s.paused).toBe(false);
  });

  it(`keeps at most ${MAX_EVENTS} events, the newest`, () => {
    let s: FeedState = initialFeed;
    for (let i = 1; i <= MAX_EVENTS + 5; i++) {
      s = feedReducer(s, { type: 'event', event: ev(i, 'x.A', 'a/1') });
    }
    expect(s.items).toHaveLength(MAX_EVENTS);
    expect(s.items[0]?.seq).toBe(MAX_EVENTS + 5);
    expect(s.items.at(-1)?.seq).toBe(6);
    // Paused, the count goes on past what is kept.
    s = feedReducer(s, { type: 'pause' });
    for (let i = MAX_EVENTS + 6; i <= 2 * MAX_EVENTS + 10; i++) {
      s = feedReducer(s, { type: 'event', event: ev(i, 'x.A', 'a/1') });
    }
    expect(s.pendingCount).toBe(MAX_EVENTS + 5);
    expect(s.pending).toHaveLength(MAX_EVENTS);
    s = feedReducer(s, { type: 'resume' });
    expect(s.items).toHaveLength(MAX_EVENTS);
    expect(s.items[0]?.seq).toBe(2 * MAX_EVENTS + 10);
  });

  it('mergeNewestFirst removes duplicates and bounds the list', () => {
    const merged = mergeNewestFirst([ev(3, 'x.A', 'a'), ev(1, 'x.A', 'a')], [ev(2, 'x.A', 'a'), ev(3, 'x.A', 'a')], 2);
    expect(merged.map((e) => e.seq)).toEqual([3, 2]);
  });
});

describe('names', () => {
  it('collection and short type', () => {
    expect(collectionOf(`agents/${A1}`)).toBe('agents');
    expect(collectionOf('bulkOperations/7')).toBe('bulkOperations');
    expect(collectionOf('system')).toBe('system');
    expect(shortType('portal.agents.v1.AgentStateChanged')).toBe('AgentStateChanged');
    expect(shortType('Plain')).toBe('Plain');
  });

  it('distinct values are sorted and keep the one from the URL', () => {
    const events = [ev(1, 'p.B', 'tokens/1'), ev(2, 'p.A', 'agents/1'), ev(3, 'p.A', 'agents/2')];
    expect(distinct(events, (e) => collectionOf(e.subject))).toEqual(['agents', 'tokens']);
    expect(distinct(events, (e) => shortType(e.eventType), 'Z')).toEqual(['A', 'B', 'Z']);
  });
});

describe('filters', () => {
  it('round-trip through the URL, keeping other parameters and leaving out empty ones', () => {
    const f = filtersFromParams(new URLSearchParams('collection=agents&type=AgentStateChanged&q=olga'));
    expect(f).toEqual({ collection: 'agents', type: 'AgentStateChanged', q: 'olga' });
    const p = filtersToParams({ ...f, type: '' }, new URLSearchParams('other=1&type=X'));
    expect(p.toString()).toBe('other=1&collection=agents&q=olga');
    expect(filtersFromParams(new URLSearchParams())).toEqual(NO_FILTERS);
    expect(hasFilters(NO_FILTERS)).toBe(false);
    expect(hasFilters({ ...NO_FILTERS, q: '  ' })).toBe(false);
    expect(hasFilters({ ...NO_FILTERS, type: 'A' })).toBe(true);
  });

  it('match the collection, the short type and text in the type, subject or payload', () => {
    const e = stateChanged(1);
    expect(matchesFilters(e, { ...NO_FILTERS, collection: 'agents' })).toBe(true);
    expect(matchesFilters(e, { ...NO_FILTERS, collection: 'tokens' })).toBe(false);
    expect(matchesFilters(e, { ...NO_FILTERS, type: 'AgentStateChanged' })).toBe(true);
    expect(matchesFilters(e, { ...NO_FILTERS, type: 'AgentCreated' })).toBe(false);
    expect(matchesFilters(e, { ...NO_FILTERS, q: 'statechanged' })).toBe(true);
    expect(matchesFilters(e, { ...NO_FILTERS, q: A1.slice(0, 8) })).toBe(true);
    expect(matchesFilters(e, { ...NO_FILTERS, q: 'OLGA@example' })).toBe(true);
    expect(matchesFilters(e, { ...NO_FILTERS, q: 'nobody' })).toBe(false);
  });

  it('apply the agent and customer scopes, learning agents from the events that carry them', () => {
    const carried = stateChanged(2, A1, 'acme');
    const other = stateChanged(3, A2, 'globex');
    const op = ev(4, 'portal.agents.v1.OperationChanged', `agents/${A1}`, { operation: { agentId: A1 } });
    const token = ev(5, 'portal.identity.v1.TokenUsed', 'tokens/1', {});
    const index = agentIndex([op, other, carried]);
    expect(index.get(A1)).toEqual({ name: `agent-${A1.slice(0, 4)}`, customer: 'acme' });

    const agent = { kind: 'agent', id: A1, name: 'x' } as const;
    expect([carried, other, op, token].map((e) => matchesScope(e, agent, index))).toEqual([true, false, true, false]);
    const acme = { kind: 'customer', customer: 'acme' } as const;
    expect([carried, other, op, token].map((e) => matchesScope(e, acme, index))).toEqual([true, false, true, false]);
    expect(matchesScope(token, { kind: 'all' }, index)).toBe(true);
  });
});

describe('summarize', () => {
  it.each([
    [stateChanged(1), 'state RUNNING → STOPPED (by dev:olga@example.com)'],
    [
      ev(1, 'portal.agents.v1.AgentCreated', 'agents/1', { agent: { name: 'probe', displayName: '' }, actor: 'token:e2e' }),
      'created probe (by token:e2e)',
    ],
    [
      ev(1, 'portal.agents.v1.AgentUpdated', 'agents/1', { agent: {}, changedFields: ['labels', 'description'], actor: 'a@b' }),
      'updated labels, description (by a@b)',
    ],
    [
      ev(1, 'portal.agents.v1.OperationChanged', 'agents/1', {
        operation: {
          action: 'AGENT_ACTION_PROVISION',
          status: 'OPERATION_STATUS_SUCCEEDED',
          fromState: 'AGENT_STATE_DRAFT',
          targetState: 'AGENT_STATE_PROVISIONED',
          actor: 'token:e2e',
          error: null,
        },
      }),
      'provision succeeded: DRAFT → PROVISIONED (by token:e2e)',
    ],
    [
      ev(1, 'portal.agents.v1.OperationChanged', 'agents/1', {
        operation: { action: 'AGENT_ACTION_START', status: 'OPERATION_STATUS_FAILED', error: { message: 'port in use' } },
      }),
      'start failed: port in use',
    ],
    [
      ev(1, 'portal.agents.v1.BulkOperationProgress', 'bulkOperations/b', {
        bulkOperation: { action: 'AGENT_ACTION_STOP', status: 'BULK_STATUS_RUNNING' },
        result: { agentId: 'a', name: 'api-1', outcome: 'rolled_back', reason: 'threshold' },
      }),
      'bulk stop: api-1 rolled back: threshold',
    ],
    [
      ev(1, 'portal.agents.v1.BulkOperationProgress', 'bulkOperations/b', {
        bulkOperation: { action: 'AGENT_ACTION_STOP', status: 'BULK_STATUS_PARTIALLY_FAILED', succeeded: 3, failed: 1, actor: 'x' },
      }),
      'bulk stop partially failed: 3 succeeded, 1 failed, 0 skipped (by x)',
    ],
    [
      ev(1, 'portal.identity.v1.LoggedIn', 'users/1', { principal: { email: 'olga@example.com', devLogin: true } }),
      'olga@example.com logged in (development login)',
    ],
    [
      ev(1, 'portal.identity.v1.AccessDenied', 'users/1', { method: 'POST', path: '/api/v1/agents', status: 403, reason: 'needs operator' }),
      '403 POST /api/v1/agents: needs operator',
    ],
    [
      ev(1, 'portal.identity.v1.TokenCreated', 'tokens/1', { token: { name: 'e2e', role: 'ROLE_ADMIN', creator: 'cli' } }),
      'token e2e created, role admin (by cli)',
    ],
    [
      ev(1, 'portal.identity.v1.GrantChanged', 'grants/1', {
        grant: { role: 'ROLE_OPERATOR', userEmail: 'v@x', state: 'GRANT_STATE_ACTIVE', decidedBy: 'ada@x' },
      }),
      'grant of operator to v@x: active (by ada@x)',
    ],
    [
      ev(1, 'portal.provisioning.v1.InstanceChanged', 'agents/1', { instance: { id: '0', state: 'ready' }, reason: 'started' }),
      'instance 0 ready (started)',
    ],
    [ev(1, 'portal.other.v1.Something', 'things/1', {}), 'from portal/test'],
  ])('summary %#', (e, want) => {
    expect(summarize(e)).toBe(want);
  });
});
