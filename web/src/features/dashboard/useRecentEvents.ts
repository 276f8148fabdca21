// A topic's recent events, then its live ones: GET /api/v1/events:recent
// for what happened before the page opened (up to the stream head it
// reports), and the WebSocket for everything after that head. No polling.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { RECENT_MAX, recentEvents } from '../../api/events';
import type { StreamEvent } from '../../api/ws';
import { useStream } from '../../app/context';
import { agentKeys } from '../agents/queries';

/** Live events kept (a day of a busy fleet would otherwise grow without end). */
export const LIVE_MAX = 5000;

// Under the agents' key, so a stream resync (which invalidates every agent
// query, see main.tsx) reads them again.
export const recentKey = (topic: string, limit: number) => [...agentKeys.all, 'recent-events', topic, limit] as const;

export interface RecentEventsResult {
  /** Oldest first; empty until the recent events are read. */
  events: StreamEvent[];
  /**
   * Whether older events may be missing: the answer was cut at the limit,
   * or live events were dropped. The history is complete from the oldest
   * event held.
   */
  truncated: boolean;
  isPending: boolean;
  error: Error | null;
}

export function useRecentEvents(topic: string, limit: number = RECENT_MAX): RecentEventsResult {
  const stream = useStream();
  const [live, setLive] = useState<StreamEvent[]>([]);
  // Subscribed before the read answers, so nothing falls between the two.
  useEffect(
    () =>
      stream.subscribe(topic, (e) => {
        setLive((prev) => (prev.length >= LIVE_MAX ? [...prev.slice(1 - LIVE_MAX), e] : [...prev, e]));
      }),
    [stream, topic],
  );
  const recent = useQuery({
    queryKey: recentKey(topic, limit),
    queryFn: ({ signal }) => recentEvents(topic, limit, signal),
    // Read afresh on every visit: the live events kept here start empty
    // with each mount, so a cached answer would leave a gap.
    staleTime: 0,
    gcTime: 0,
  });
  const data = recent.data;
  const events = useMemo(() => {
    if (!data) {
      return [];
    }
    const seen = new Set<number>();
    const out: StreamEvent[] = [];
    for (const e of data.events) {
      if (!seen.has(e.seq)) {
        seen.add(e.seq);
        out.push(e);
      }
    }
    for (const e of live) {
      if (e.seq > data.seq && !seen.has(e.seq)) {
        seen.add(e.seq);
        out.push(e);
      }
    }
    return out;
  }, [data, live]);
  return {
    events,
    truncated: data !== undefined && (data.events.length >= limit || live.length >= LIVE_MAX),
    isPending: recent.isPending,
    error: recent.error,
  };
}
