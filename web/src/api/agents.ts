// The agents service (portal.agents.v1.AgentService) over REST. Types are
// protoc-gen-es's JSON types, which match grpc-gateway's protojson.
import type {
  DeployAgentRequestJson,
  DeployAgentResponseJson,
  GetAgentResponseJson,
  ListAgentsRequestJson,
  ListAgentsResponseJson,
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
import { request } from './client';

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
