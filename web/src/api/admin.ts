// The identity service's admin side (portal.identity.v1.IdentityService)
// over REST: users and their roles, API tokens, temporary grants. Types are
// protoc-gen-es's JSON types, which match grpc-gateway's protojson.
import type {
  ApproveGrantResponseJson,
  CreateTokenRequestJson,
  CreateTokenResponseJson,
  DenyGrantResponseJson,
  ListGrantsRequestJson,
  ListGrantsResponseJson,
  ListTokensRequestJson,
  ListTokensResponseJson,
  ListUsersRequestJson,
  ListUsersResponseJson,
  RequestGrantRequestJson,
  RequestGrantResponseJson,
  RevokeGrantResponseJson,
  RevokeTokenResponseJson,
  SetUserRoleRequestJson,
  SetUserRoleResponseJson,
} from '../gen/portal/identity/v1/identity_pb';
import { request } from './client';

const id = (s: string) => encodeURIComponent(s);

export type ListUsersParams = Pick<ListUsersRequestJson, 'pageSize' | 'pageToken' | 'query'>;

/** listUsers: GET /api/v1/users, one page in email order; query matches email or name. */
export function listUsers(params: ListUsersParams = {}, signal?: AbortSignal): Promise<ListUsersResponseJson> {
  return request<ListUsersResponseJson>('/api/v1/users', {
    query: { page_size: params.pageSize, page_token: params.pageToken, query: params.query },
    signal,
  });
}

/**
 * setUserRole: POST /api/v1/users/{id}:setRole. ROLE_UNSPECIFIED removes the
 * assignment (the role rules apply again); a stale etag is refused (ABORTED).
 */
export function setUserRole(userId: string, body: Omit<SetUserRoleRequestJson, 'id'>): Promise<SetUserRoleResponseJson> {
  return request<SetUserRoleResponseJson>(`/api/v1/users/${id(userId)}:setRole`, { method: 'POST', body });
}

export type ListTokensParams = Pick<ListTokensRequestJson, 'pageSize' | 'pageToken' | 'showInactive'>;

/** listTokens: GET /api/v1/tokens, newest first, never with their secrets. */
export function listTokens(params: ListTokensParams = {}, signal?: AbortSignal): Promise<ListTokensResponseJson> {
  return request<ListTokensResponseJson>('/api/v1/tokens', {
    query: {
      page_size: params.pageSize,
      page_token: params.pageToken,
      // Left out when false: the server's default.
      show_inactive: params.showInactive === true ? true : undefined,
    },
    signal,
  });
}

/** createToken: POST /api/v1/tokens. The response holds the secret, this once. */
export function createToken(body: CreateTokenRequestJson): Promise<CreateTokenResponseJson> {
  return request<CreateTokenResponseJson>('/api/v1/tokens', { method: 'POST', body });
}

/** revokeToken: POST /api/v1/tokens/{id}:revoke, at once. */
export function revokeToken(tokenId: string): Promise<RevokeTokenResponseJson> {
  return request<RevokeTokenResponseJson>(`/api/v1/tokens/${id(tokenId)}:revoke`, { method: 'POST', body: {} });
}

export type ListGrantsParams = Pick<ListGrantsRequestJson, 'pageSize' | 'pageToken' | 'state'>;

/** listGrants: GET /api/v1/grants, newest first: an admin gets everyone's, anyone else their own. */
export function listGrants(params: ListGrantsParams = {}, signal?: AbortSignal): Promise<ListGrantsResponseJson> {
  return request<ListGrantsResponseJson>('/api/v1/grants', {
    query: {
      page_size: params.pageSize,
      page_token: params.pageToken,
      state: params.state === 'GRANT_STATE_UNSPECIFIED' ? undefined : params.state,
    },
    signal,
  });
}

/** requestGrant: POST /api/v1/grants, a temporary higher role for a reason; an admin decides. */
export function requestGrant(body: RequestGrantRequestJson): Promise<RequestGrantResponseJson> {
  return request<RequestGrantResponseJson>('/api/v1/grants', { method: 'POST', body });
}

interface GrantDecisions {
  approve: ApproveGrantResponseJson;
  deny: DenyGrantResponseJson;
  revoke: RevokeGrantResponseJson;
}

export type GrantDecision = keyof GrantDecisions;

/**
 * decideGrant approves or denies a pending grant, or revokes an active one:
 * POST /api/v1/grants/{id}:{decision}, with an optional note kept with it.
 */
export function decideGrant<D extends GrantDecision>(
  grantId: string,
  decision: D,
  reason?: string,
): Promise<GrantDecisions[D]> {
  return request<GrantDecisions[D]>(`/api/v1/grants/${id(grantId)}:${decision}`, {
    method: 'POST',
    body: reason ? { reason } : {},
  });
}
