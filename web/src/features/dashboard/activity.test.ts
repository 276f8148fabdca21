import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../api/ws';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { activityEntries } from './activity';
import { BULK_PROGRESS, CREATED, DELETED, STATE_CHANGED, UPDATED } from './series';

let seq = 100;
function ev(eventType: string, data: unknown, time = '2025-06-01T11:00:00Z'): StreamEvent {
  seq++;
  return { type: 'event', seq, id: `e${seq}`, eventType, source: 'portal/agents', subject: 'agents/x', time, data };
}

const acme: AgentJson = { id: 'a1', name: 'memory-1', state: 'AGENT_STATE_RUNNING', labels: { customer: 'acme' } };
const globex: AgentJson = { id: 'a2', name: 'api-1', displayName: 'The API', state: 'AGENT_STATE_DRAFT', labels: { customer: 'globex' } };

describe('activityEntries', () => {
  it('describes a state change with from → to, the action, the actor and the reason', () => {
    const [e] = activityEntries(
      [
        ev(STATE_CHANGED, {
          agent: acme,
          transition: {
            fromState: 'AGENT_STATE_DEPLOYED',
            toState: 'AGENT_STATE_RUNNING',
            action: 'AGENT_ACTION_START',
            actor: 'olga@example.com',
            reason: 'release',
            time: '2025-06-01T11:00:05Z',
          },
        }),
      ],
      { kind: 'all' },
    );
    expect(e).toMatchObject({
      agentId: 'a1',
      agentName: 'memory-1',
      text: 'DEPLOYED → RUNNING',
      description: 'start · by olga@example.com · release',
      tone: 'success',
      status: 'Running',
      time: '2025-06-01T11:00:05Z',
    });
    expect(e?.details).toBeUndefined();
  });

  it("gives an error transition the agent's error as details", () => {
    const [e] = activityEntries(
      [
        ev(STATE_CHANGED, {
          agent: { ...acme, state: 'AGENT_STATE_ERRORED', error: { code: 'CRASH_LOOP', message: 'exited 3 times', probableCause: 'bad config' } },
          transition: { fromState: 'AGENT_STATE_RUNNING', toState: 'AGENT_STATE_ERRORED', action: 'AGENT_ACTION_FAIL' },
        }),
      ],
      { kind: 'all' },
    );
    expect(e).toMatchObject({ tone: 'error', status: 'Errored', details: 'CRASH_LOOP · exited 3 times · bad config' });
    expect(e?.description).toBe('fail');
  });

  it('puts a long reason behind the details, a short one inline', () => {
    const long = 'x'.repeat(81);
    const [e] = activityEntries(
      [
        ev(STATE_CHANGED, {
          agent: acme,
          transition: { fromState: 'AGENT_STATE_RUNNING', toState: 'AGENT_STATE_STOPPED', action: 'AGENT_ACTION_STOP', reason: long },
        }),
      ],
      { kind: 'all' },
    );
    expect(e).toMatchObject({ description: 'stop', details: long });
  });

  it('describes creations, updates and deletions; a deleted agent has no link', () => {
    const list = activityEntries(
      [
        ev(CREATED, { agent: globex, actor: 'ada' }),
        ev(UPDATED, { agent: globex, changedFields: ['labels', 'owner'] }),
        ev(DELETED, { agent: globex, actor: 'ada' }),
      ],
      { kind: 'all' },
    );
    expect(list.map((e) => [e.agentName, e.text, e.description, e.agentId])).toEqual([
      ['The API', 'deleted', 'by ada', undefined],
      ['The API', 'updated (labels, owner)', undefined, 'a2'],
      ['The API', 'created', 'by ada', 'a2'],
    ]);
    // The text says what happened: no status word before it.
    expect(list.map((e) => e.status)).toEqual([undefined, undefined, undefined]);
  });

  it('keeps the scope: a customer, or one agent', () => {
    const events = [ev(CREATED, { agent: acme }), ev(CREATED, { agent: globex })];
    expect(activityEntries(events, { kind: 'customer', customer: 'acme' }).map((e) => e.agentId)).toEqual(['a1']);
    expect(activityEntries(events, { kind: 'agent', id: 'a2', name: 'api-1' }).map((e) => e.agentId)).toEqual(['a2']);
    expect(activityEntries(events, { kind: 'all' })).toHaveLength(2);
  });

  it('shows a bulk operation once, by its summary, in the unscoped view only', () => {
    const events = [
      ev(BULK_PROGRESS, {
        bulkOperation: { action: 'AGENT_ACTION_STOP', status: 'BULK_STATUS_RUNNING', total: 3 },
        result: { agentId: 'a1', outcome: 'succeeded' },
      }),
      ev(BULK_PROGRESS, {
        bulkOperation: {
          action: 'AGENT_ACTION_STOP',
          status: 'BULK_STATUS_PARTIALLY_FAILED',
          total: 3,
          succeeded: 2,
          failed: 1,
          actor: 'olga',
          createTime: '2025-06-01T11:00:00Z',
          doneTime: '2025-06-01T11:00:04Z',
        },
      }),
    ];
    const all = activityEntries(events, { kind: 'all' });
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({
      text: 'Bulk stop on 3 agents: 2 succeeded, 1 failed, 0 skipped',
      description: 'by olga',
      tone: 'warning',
      status: 'partially failed',
      durationMs: 4000,
    });
    expect(all[0]?.agentId).toBeUndefined();
    expect(activityEntries(events, { kind: 'customer', customer: 'acme' })).toEqual([]);
  });

  it('is the newest first, at most the limit, skipping what it cannot show', () => {
    const events = [
      ...Array.from({ length: 30 }, () => ev(CREATED, { agent: acme })),
      ev('portal.agents.v1.OperationChanged', { operation: { agentId: 'a1' } }),
      ev(CREATED, {}),
    ];
    const list = activityEntries([...events].reverse(), { kind: 'all' });
    expect(list).toHaveLength(20);
    expect(list[0]?.seq).toBe(events[29]?.seq);
    expect(list.map((e) => e.seq)).toEqual([...list.map((e) => e.seq)].sort((a, b) => b - a));
    expect(activityEntries(events, { kind: 'all' }, 5)).toHaveLength(5);
    expect(activityEntries([], { kind: 'all' })).toEqual([]);
  });
});
