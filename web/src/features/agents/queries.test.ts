import { QueryClient, QueryObserver } from '@tanstack/react-query';
import { describe, expect, it, vi } from 'vitest';
import type { AgentJson, ListAgentsResponseJson } from '../../gen/portal/agents/v1/agents_pb';
import { agentChanged, agentKeys, applyAgentEvent, isOlder } from './queries';

const agent = (etag: string, state: AgentJson['state'], pending = ''): AgentJson => ({
  id: 'a1',
  name: 'memory-1',
  etag,
  state,
  pendingOperation: pending,
});

describe('keeping the agents cache current', () => {
  it.each([
    ['3', '4', true],
    ['4', '4', false],
    ['5', '4', false],
    ['x', '4', false],
    ['3', undefined, false],
  ])('an agent at etag %s is older than one at %s: %s', (a, b, want) => {
    expect(isOlder({ etag: a }, b === undefined ? undefined : { etag: b })).toBe(want);
  });

  it("never puts an action's late answer over the newer state an event brought", () => {
    const qc = new QueryClient();
    const key = agentKeys.list({ pageSize: 25 });
    qc.setQueryData<ListAgentsResponseJson>(key, { agents: [agent('2', 'AGENT_STATE_DRAFT')] });
    qc.setQueryData(agentKeys.detail('a1'), { agent: agent('2', 'AGENT_STATE_DRAFT') });
    // The operation finished: its event comes first...
    applyAgentEvent(qc, {
      type: 'event',
      seq: 1,
      id: 'e1',
      source: 't',
      time: '',
      eventType: 'portal.agents.v1.AgentStateChanged',
      subject: 'agents/a1',
      data: { agent: agent('4', 'AGENT_STATE_PROVISIONED') },
    });
    // ...then the action's answer, from before it.
    agentChanged(qc, agent('3', 'AGENT_STATE_DRAFT', 'op-1'));
    expect(qc.getQueryData<ListAgentsResponseJson>(key)?.agents?.[0]?.state).toBe('AGENT_STATE_PROVISIONED');
    expect(qc.getQueryData<{ agent: AgentJson }>(agentKeys.detail('a1'))?.agent.state).toBe('AGENT_STATE_PROVISIONED');
    // A newer one goes in.
    agentChanged(qc, agent('5', 'AGENT_STATE_DEPLOYED'));
    expect(qc.getQueryData<ListAgentsResponseJson>(key)?.agents?.[0]?.state).toBe('AGENT_STATE_DEPLOYED');
  });

  it('re-reads a list that was being fetched when the event came (its answer may predate it)', async () => {
    const qc = new QueryClient();
    const key = agentKeys.list({ pageSize: 25 });
    let calls = 0;
    let release: (v: ListAgentsResponseJson) => void = () => undefined;
    // An active list, as on the agents page: read once, then re-read slowly
    // (as after an action) while the change's event arrives.
    const observer = new QueryObserver(qc, {
      queryKey: key,
      queryFn: () => {
        calls++;
        if (calls === 2) {
          return new Promise<ListAgentsResponseJson>((r) => {
            release = r;
          });
        }
        return Promise.resolve({ agents: [agent(calls === 1 ? '2' : '4', calls === 1 ? 'AGENT_STATE_DRAFT' : 'AGENT_STATE_PROVISIONED')] });
      },
    });
    const off = observer.subscribe(() => undefined);
    await vi.waitFor(() => {
      expect(qc.getQueryData<ListAgentsResponseJson>(key)?.agents?.[0]?.state).toBe('AGENT_STATE_DRAFT');
    });
    void observer.refetch();
    await vi.waitFor(() => {
      expect(calls).toBe(2);
    });
    applyAgentEvent(qc, {
      type: 'event',
      seq: 1,
      id: 'e1',
      source: 't',
      time: '',
      eventType: 'portal.agents.v1.AgentStateChanged',
      subject: 'agents/a1',
      data: { agent: agent('4', 'AGENT_STATE_PROVISIONED') },
    });
    // The slow read answers with what it saw before the change.
    release({ agents: [agent('3', 'AGENT_STATE_DRAFT', 'op-1')] });
    await vi.waitFor(() => {
      expect(calls).toBe(3);
    });
    await vi.waitFor(() => {
      expect(qc.isFetching({ queryKey: key })).toBe(0);
    });
    expect(qc.getQueryData<ListAgentsResponseJson>(key)?.agents?.[0]?.state).toBe('AGENT_STATE_PROVISIONED');
    off();
  });
});
