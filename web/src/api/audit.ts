// The audit service (portal.audit.v1.AuditService) over REST. Types are
// protoc-gen-es's JSON types, which match grpc-gateway's protojson.
import type {
  SearchEntriesRequestJson,
  SearchEntriesResponseJson,
  VerifyChainResponseJson,
} from '../gen/portal/audit/v1/audit_pb';
import { buildQuery, request } from './client';

export type SearchEntriesParams = Pick<
  SearchEntriesRequestJson,
  'pageSize' | 'pageToken' | 'actor' | 'action' | 'resource' | 'outcome' | 'startTime' | 'endTime' | 'query' | 'orderBy'
>;

/** searchEntries: GET /api/v1/audit/entries, one page (newest first unless orderBy says otherwise). */
export function searchEntries(params: SearchEntriesParams = {}, signal?: AbortSignal): Promise<SearchEntriesResponseJson> {
  return request<SearchEntriesResponseJson>('/api/v1/audit/entries', {
    query: {
      page_size: params.pageSize,
      page_token: params.pageToken,
      actor: params.actor,
      action: params.action,
      resource: params.resource,
      outcome: params.outcome,
      start_time: params.startTime,
      end_time: params.endTime,
      query: params.query,
      order_by: params.orderBy,
    },
    signal,
  });
}

/** verifyChain: GET /api/v1/audit/entries:verify, the whole chain. */
export function verifyChain(signal?: AbortSignal): Promise<VerifyChainResponseJson> {
  return request<VerifyChainResponseJson>('/api/v1/audit/entries:verify', { signal });
}

export type ExportFormat = 'csv' | 'json';

/**
 * exportURL is GET /api/v1/audit/entries:export for a time range (RFC 3339,
 * both required, at most 366 days apart). It is a plain link: a GET needs no
 * CSRF header and the session cookie goes with it, so the browser downloads
 * the streamed file itself instead of holding it in memory.
 */
export function exportURL(format: ExportFormat, startTime: string, endTime: string): string {
  return `/api/v1/audit/entries:export${buildQuery({ format, start_time: startTime, end_time: endTime })}`;
}
