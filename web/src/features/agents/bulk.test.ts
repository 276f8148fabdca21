import { describe, expect, it } from 'vitest';
import type { AgentJson, BulkOperationJson } from '../../gen/portal/agents/v1/agents_pb';
import { actionEnum, applicableCount, mergeBulk, previewBulk, stepStatus, summaryText, transitionsSummary } from './bulk';

const running = (id: string): AgentJson => ({ id, name: id, state: 'AGENT_STATE_RUNNING' });
const draft = (id: string): AgentJson => ({ id, name: id, state: 'AGENT_STATE_DRAFT' });

describe('previewBulk', () => {
  it('splits the agents into those the action changes and those it skips, with why', () => {
    const p = previewBulk([running('a'), draft('b'), running('c')], 'stop');
    expect(p.change.map((c) => [c.agent.id, c.to])).toEqual([
      ['a', 'AGENT_STATE_STOPPED'],
      ['c', 'AGENT_STATE_STOPPED'],
    ]);
    expect(p.skip).toEqual([{ agent: draft('b'), reason: 'cannot stop from DRAFT' }]);
    expect(transitionsSummary(p)).toEqual([{ from: 'RUNNING', to: 'STOPPED', count: 2 }]);
  });

  it('counts the agents an action applies to', () => {
    const agents = [running('a'), draft('b')];
    expect(applicableCount(agents, 'stop')).toBe(1);
    expect(applicableCount(agents, 'revoke')).toBe(2);
    expect(applicableCount(agents, 'resume')).toBe(0);
  });

  it('names the API enum of an action', () => {
    expect(actionEnum('restart')).toBe('AGENT_ACTION_RESTART');
  });
});

describe('mergeBulk', () => {
  const op = (o: Partial<BulkOperationJson>): BulkOperationJson => ({ id: 'b1', total: 3, status: 'BULK_STATUS_RUNNING', ...o });

  it('never moves the counts back when an older report arrives late', () => {
    let v = mergeBulk(undefined, op({ succeeded: 2 }), [{ agentId: 'a', outcome: 'succeeded' }]);
    v = mergeBulk(v, op({ succeeded: 1 }), [{ agentId: 'a', outcome: 'running' }]);
    expect(v.op.succeeded).toBe(2);
    expect(v.results.get('a')?.outcome).toBe('succeeded');
  });

  it('takes the final report whatever its counts, and later outcomes like a rollback', () => {
    let v = mergeBulk(undefined, op({ succeeded: 2 }), [{ agentId: 'a', outcome: 'succeeded' }]);
    v = mergeBulk(v, op({ status: 'BULK_STATUS_ROLLED_BACK', succeeded: 1, failed: 2 }), [
      { agentId: 'a', outcome: 'rolled_back' },
    ]);
    expect(v.op.status).toBe('BULK_STATUS_ROLLED_BACK');
    expect(v.op.failed).toBe(2);
    expect(v.results.get('a')?.outcome).toBe('rolled_back');
    // A running report after the end changes nothing.
    v = mergeBulk(v, op({ succeeded: 3 }));
    expect(v.op.status).toBe('BULK_STATUS_ROLLED_BACK');
  });

  it.each([
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
    ['rollback_failed', 'failed'],
    ['skipped', 'skipped'],
    ['rolled_back', 'skipped'],
    ['running', 'running'],
    ['pending', 'pending'],
    [undefined, 'pending'],
  ])('shows outcome %s as step %s', (outcome, want) => {
    expect(stepStatus(outcome)).toBe(want);
  });

  it('sums up how it ended', () => {
    expect(summaryText(op({ status: 'BULK_STATUS_SUCCEEDED', succeeded: 3 }))).toBe('Done: 3 succeeded, 0 failed, 0 skipped.');
    expect(summaryText(op({ status: 'BULK_STATUS_PARTIALLY_FAILED', succeeded: 2, failed: 1 }))).toMatch(/^Partly failed: 2 succeeded, 1 failed/);
  });
});
