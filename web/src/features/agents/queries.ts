// The agents' server state in TanStack Query, kept live by the event stream:
// events update the cached lists and agents in place (no polling), and a
// resync refetches them.
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { eventAgent, getAgent, listAgents, listStateHistory, tailLogs, type ListAgentsParams } from '../../api/agents';
import type { StreamEvent } from '../../api/ws';
import { useStream } from '../../app/context';
import type { AgentJson, GetAgentResponseJson, ListAgentsResponseJson } from '../../gen/portal/agents/v1/agents_pb';

export const agentKeys = {
  all: ['agents'] as const,
  lists: () => ['agents', 'list'] as const,
  list: (params: ListAgentsParams) => ['agents', 'list', params] as const,
  detail: (id: string) => ['agents', 'detail', id] as const,
  history: (id: string) => ['agents', 'history', id] as const,
  logs: (id: string) => ['agents', 'logs', id] as const,
};

export const listQuery = (params: ListAgentsParams) => ({
  queryKey: agentKeys.list(params),
  queryFn: ({ signal }: { signal: AbortSignal }) => listAgents(params, signal),
});

export const detailQuery = (id: string) => ({
  queryKey: agentKeys.detail(id),
  queryFn: ({ signal }: { signal: AbortSignal }) => getAgent(id, signal),
});

export const historyQuery = (id: string) => ({
  queryKey: agentKeys.history(id),
  queryFn: ({ signal }: { signal: AbortSignal }) => listStateHistory(id, { pageSize: 100 }, signal),
});

export const logsQuery = (id: string) => ({
  queryKey: agentKeys.logs(id),
  queryFn: ({ signal }: { signal: AbortSignal }) => tailLogs(id, 50, signal),
});

const EVENT_PREFIX = 'portal.agents.v1.';

/** revision is the agent's etag as the number it is (the server counts its changes). */
function revision(a: AgentJson | undefined): number | undefined {
  const n = Number(a?.etag);
  return a?.etag && Number.isFinite(n) ? n : undefined;
}

/**
 * isOlder reports whether incoming is older than have: an action's answer
 * can arrive after the event of the change that followed it.
 */
export function isOlder(incoming: AgentJson, have: AgentJson | undefined): boolean {
  const a = revision(incoming);
  const b = revision(have);
  return a !== undefined && b !== undefined && a < b;
}

/**
 * agentChanged puts a newer copy of an agent into every cached list and its
 * detail (never an older one over a newer); a list filtered by state drops an
 * agent that left those states.
 */
export function agentChanged(qc: QueryClient, agent: AgentJson): void {
  for (const [key, old] of qc.getQueriesData<ListAgentsResponseJson>({ queryKey: agentKeys.lists() })) {
    const have = old?.agents?.find((a) => a.id === agent.id);
    if (!old?.agents || !have || isOlder(agent, have)) {
      continue;
    }
    const params = key[2] as ListAgentsParams | undefined;
    const states = params?.states ?? [];
    const fits = states.length === 0 || (agent.state !== undefined && states.includes(agent.state));
    qc.setQueryData<ListAgentsResponseJson>(key, {
      ...old,
      agents: fits ? old.agents.map((a) => (a.id === agent.id ? agent : a)) : old.agents.filter((a) => a.id !== agent.id),
    });
  }
  if (agent.id) {
    qc.setQueryData<GetAgentResponseJson>(agentKeys.detail(agent.id), (old) =>
      old && !isOlder(agent, old.agent) ? { ...old, agent } : old,
    );
  }
}

/**
 * refetchInFlight re-reads the agent queries that were being fetched when an
 * event arrived: their answer may predate the event and would put the old
 * state back. The new read starts after the event, so it includes it.
 */
function refetchInFlight(qc: QueryClient, id: string | undefined): void {
  for (const key of [agentKeys.lists(), ...(id ? [agentKeys.detail(id)] : [])]) {
    if (qc.isFetching({ queryKey: key }) > 0) {
      void qc.invalidateQueries({ queryKey: key });
    }
  }
}

/** applyAgentEvent updates the query cache from one event of the stream. */
export function applyAgentEvent(qc: QueryClient, e: StreamEvent): void {
  if (!e.eventType.startsWith(EVENT_PREFIX)) {
    return;
  }
  const kind = e.eventType.slice(EVENT_PREFIX.length);
  const agent = eventAgent(e);
  switch (kind) {
    case 'AgentStateChanged':
    case 'AgentUpdated':
      if (agent) {
        agentChanged(qc, agent);
        refetchInFlight(qc, agent.id);
        if (kind === 'AgentStateChanged' && agent.id) {
          void qc.invalidateQueries({ queryKey: agentKeys.history(agent.id) });
          void qc.invalidateQueries({ queryKey: agentKeys.logs(agent.id) });
        }
      }
      break;
    case 'AgentCreated':
      // Where it lands depends on each list's filter and order: re-read them.
      void qc.invalidateQueries({ queryKey: agentKeys.lists() });
      break;
    case 'AgentDeleted':
      if (agent) {
        qc.setQueriesData<ListAgentsResponseJson>({ queryKey: agentKeys.lists() }, (old) =>
          old?.agents ? { ...old, agents: old.agents.filter((a) => a.id !== agent.id) } : old,
        );
        if (agent.id) {
          void qc.invalidateQueries({ queryKey: agentKeys.detail(agent.id) });
        }
      }
      break;
    case 'OperationChanged': {
      const op = (e.data as { operation?: { agentId?: string } } | undefined)?.operation;
      if (op?.agentId) {
        void qc.invalidateQueries({ queryKey: agentKeys.detail(op.agentId) });
      }
      break;
    }
  }
}

/** useAgentEvents follows a topic ("agents" or "agents/<id>") into the query cache. */
export function useAgentEvents(topic: string): void {
  const stream = useStream();
  const qc = useQueryClient();
  useEffect(
    () =>
      stream.subscribe(topic, (e) => {
        applyAgentEvent(qc, e);
      }),
    [stream, qc, topic],
  );
}
