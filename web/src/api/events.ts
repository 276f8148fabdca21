// The event stream's history over REST: GET /api/v1/events:recent, the
// newest events of a topic that the caller may see, to show before the page
// follows the WebSocket. The gateway's hub answers it directly (no proto
// service: gateway/internal/hub/recent.go), with the very objects the
// stream sends, so its one response type is written here by hand.
import { request } from './client';
import type { StreamEvent } from './ws';

export interface RecentEventsResponse {
  /** Oldest first, as the WebSocket sends them. */
  events: StreamEvent[];
  /** The stream head the events were read up to: later ones come over the WebSocket. */
  seq: number;
}

/** The gateway's largest limit (hub.RecentMax). */
export const RECENT_MAX = 1000;

/** recentEvents: GET /api/v1/events:recent?topic=&limit=. */
export function recentEvents(topic = '*', limit = 200, signal?: AbortSignal): Promise<RecentEventsResponse> {
  return request<RecentEventsResponse>('/api/v1/events:recent', { query: { topic, limit }, signal });
}
