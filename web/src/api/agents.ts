// The agents service (portal.agents.v1.AgentService) over REST. Types are
// protoc-gen-es's JSON types, which match grpc-gateway's protojson.
import type {
  BulkAgentActionRequestJson,
  BulkAgentActionResponseJson,
  AgentJson,
  CreateAgentResponseJson,
  DeployAgentRequestJson,
  DeployAgentResponseJson,
  ExecuteSuggestedActionRequestJson,
  ExecuteSuggestedActionResponseJson,
  GetAgentResponseJson,
  GetBulkOperationResponseJson,
  ListAgentsRequestJson,
  ListAgentsResponseJson,
  ListStateHistoryResponseJson,
  ProvisionAgentRequestJson,
  ProvisionAgentResponseJson,
  RestartAgentRequestJson,
  RestartAgentResponseJson,
  ResumeAgentRequestJson,
  ResumeAgentResponseJson,
  RevokeAgentRequestJson,
  RevokeAgentResponseJson,
  StartAgentRequestJson,
  StartAgentResponseJson,
  StopAgentRequestJson,
  StopAgentResponseJson,
  SuspendAgentRequestJson,
  SuspendAgentResponseJson,
} from '../gen/portal/agents/v1/agents_pb';
import type { TailLogsResponseJson } from '../gen/portal/provisioning/v1/provisioning_pb';
import { request } from './client';
import type { StreamEvent } from './ws';

export type ListAgentsParams = Pick<
  ListAgentsRequestJson,
  'pageSize' | 'pageToken' | 'states' | 'kinds' | 'labelSelector' | 'query' | 'orderBy'
>;

/** listAgents: GET /api/v1/agents, one page. */
export function listAgents(params: ListAgentsParams = {}, signal?: AbortSignal): Promise<ListAgentsResponseJson> {
  return request<ListAgentsResponseJson>('/api/v1/agents', {
    query: {
      page_size: params.pageSize,
      page_token: params.pageToken,
      states: params.states,
      kinds: params.kinds,
      label_selector: params.labelSelector,
      query: params.query,
      order_by: params.orderBy,
    },
    signal,
  });
}

/** createAgent: POST /api/v1/agents; the agent starts in DRAFT. */
export function createAgent(agent: AgentJson, signal?: AbortSignal): Promise<CreateAgentResponseJson> {
  return request<CreateAgentResponseJson>('/api/v1/agents', { method: 'POST', body: agent, signal });
}

/** getAgent: GET /api/v1/agents/{id}. */
export function getAgent(id: string, signal?: AbortSignal): Promise<GetAgentResponseJson> {
  return request<GetAgentResponseJson>(`/api/v1/agents/${encodeURIComponent(id)}`, { signal });
}

/** Each lifecycle action's request and response, by its name in the URL. */
interface AgentActions {
  provision: [ProvisionAgentRequestJson, ProvisionAgentResponseJson];
  deploy: [DeployAgentRequestJson, DeployAgentResponseJson];
  start: [StartAgentRequestJson, StartAgentResponseJson];
  stop: [StopAgentRequestJson, StopAgentResponseJson];
  suspend: [SuspendAgentRequestJson, SuspendAgentResponseJson];
  resume: [ResumeAgentRequestJson, ResumeAgentResponseJson];
  restart: [RestartAgentRequestJson, RestartAgentResponseJson];
  revoke: [RevokeAgentRequestJson, RevokeAgentResponseJson];
}

export type AgentActionName = keyof AgentActions;

/** What an action sends besides the id: the etag it expects, and why. */
export type AgentActionOptions<A extends AgentActionName> = Omit<AgentActions[A][0], 'id'>;

/**
 * agentAction runs a lifecycle action: POST /api/v1/agents/{id}:{action}
 * with the agent's etag (the change fails with ABORTED if the agent changed
 * meanwhile) and the reason kept in its state history.
 */
export function agentAction<A extends AgentActionName>(
  id: string,
  action: A,
  opts?: AgentActionOptions<A>,
  signal?: AbortSignal,
): Promise<AgentActions[A][1]> {
  return request<AgentActions[A][1]>(`/api/v1/agents/${encodeURIComponent(id)}:${action}`, {
    method: 'POST',
    body: opts ?? {},
    signal,
  });
}

/** listStateHistory: GET /api/v1/agents/{id}/history, one page, oldest first. */
export function listStateHistory(
  id: string,
  params: { pageSize?: number; pageToken?: string } = {},
  signal?: AbortSignal,
): Promise<ListStateHistoryResponseJson> {
  return request<ListStateHistoryResponseJson>(`/api/v1/agents/${encodeURIComponent(id)}/history`, {
    query: { page_size: params.pageSize, page_token: params.pageToken },
    signal,
  });
}

/** tailLogs: GET /api/v1/agents/{id}/logs, the last lines of its instances. */
export function tailLogs(id: string, limit = 50, signal?: AbortSignal): Promise<TailLogsResponseJson> {
  return request<TailLogsResponseJson>(`/api/v1/agents/${encodeURIComponent(id)}/logs`, {
    query: { limit },
    signal,
  });
}

/** remediate: POST /api/v1/agents/{id}:remediate, carries out one suggested action. */
export function remediate(
  id: string,
  opts: Omit<ExecuteSuggestedActionRequestJson, 'id'>,
  signal?: AbortSignal,
): Promise<ExecuteSuggestedActionResponseJson> {
  return request<ExecuteSuggestedActionResponseJson>(`/api/v1/agents/${encodeURIComponent(id)}:remediate`, {
    method: 'POST',
    body: opts,
    signal,
  });
}

/**
 * bulkAction: POST /api/v1/agents:bulk, one action on many agents. It answers
 * at once with the running operation; progress comes as BulkOperationProgress
 * events on the topic bulkOperations/<id>.
 */
export function bulkAction(req: BulkAgentActionRequestJson, signal?: AbortSignal): Promise<BulkAgentActionResponseJson> {
  return request<BulkAgentActionResponseJson>('/api/v1/agents:bulk', { method: 'POST', body: req, signal });
}

/** getBulkOperation: GET /api/v1/bulkOperations/{id}, with its per-agent results. */
export function getBulkOperation(id: string, signal?: AbortSignal): Promise<GetBulkOperationResponseJson> {
  return request<GetBulkOperationResponseJson>(`/api/v1/bulkOperations/${encodeURIComponent(id)}`, { signal });
}

/**
 * eventAgent is the agent an agents event carries (data.agent: after the
 * change, or as it was for a deletion), if it carries one with an id.
 */
export function eventAgent(e: StreamEvent): AgentJson | undefined {
  const d: unknown = e.data;
  const a: unknown = typeof d === 'object' && d !== null ? (d as { agent?: unknown }).agent : undefined;
  return typeof a === 'object' && a !== null && typeof (a as AgentJson).id === 'string' && (a as AgentJson).id !== ''
    ? (a)
    : undefined;
}
