import { act, cleanup, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StreamEvent } from '../../api/ws';
import { FakeStream, mockFetch, renderWith } from '../../test/render';
import { recentKey, useRecentEvents } from './useRecentEvents';

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

afterEach(cleanup);

const ev = (seq: number): StreamEvent => ({
  type: 'event',
  seq,
  id: `e${seq}`,
  eventType: 'portal.agents.v1.AgentCreated',
  source: 'portal/agents',
  subject: `agents/a${seq}`,
  time: '2025-06-01T12:00:00Z',
});

function Probe({ limit }: { limit?: number }) {
  const r = useRecentEvents('agents', limit);
  return (
    <output aria-label="events">
      {r.isPending ? 'pending' : `${r.events.map((e) => e.seq).join(',')}${r.truncated ? ' truncated' : ''}`}
    </output>
  );
}

const shown = () => screen.getByRole('status', { name: 'events' }).textContent;

describe('useRecentEvents', () => {
  it('reads the recent events, then appends only the live ones after their head, once each', async () => {
    // A live event arrives before the read answers: held until then.
    let answer: (r: Response) => void = () => undefined;
    vi.stubGlobal(
      'fetch',
      vi.fn(
        () =>
          new Promise<Response>((resolve) => {
            answer = resolve;
          }),
      ),
    );
    const stream = new FakeStream();
    renderWith(<Probe />, { stream });
    expect(shown()).toBe('pending');
    expect(stream.handlers.get('agents')?.size).toBe(1);
    act(() => {
      stream.emit(ev(4)); // before the head: already in the answer, or not this topic's
      stream.emit(ev(6));
    });
    act(() => {
      answer(new Response(JSON.stringify({ events: [ev(2), ev(3), ev(3)], seq: 5 }), { status: 200 }));
    });
    await waitFor(() => {
      expect(shown()).toBe('2,3,6');
    });
    act(() => {
      stream.emit(ev(6));
      stream.emit(ev(7));
    });
    expect(shown()).toBe('2,3,6,7');
    const url = new URL((vi.mocked(fetch).mock.calls[0]?.[0] as string | undefined) ?? '', 'http://x');
    expect(url.pathname).toBe('/api/v1/events:recent');
    expect(url.searchParams.get('topic')).toBe('agents');
    expect(url.searchParams.get('limit')).toBe('1000');
  });

  it('says the history may be cut when the answer reaches the limit', async () => {
    mockFetch({ 'GET /api/v1/events:recent': () => [200, { events: [ev(1), ev(2)], seq: 2 }] }, stub);
    renderWith(<Probe limit={2} />);
    await waitFor(() => {
      expect(shown()).toBe('1,2 truncated');
    });
  });

  it('reads again when the stream resyncs (the agents queries are invalidated)', async () => {
    let head = 2;
    const calls = mockFetch({ 'GET /api/v1/events:recent': () => [200, { events: [ev(head)], seq: head }] }, stub);
    const { queryClient } = renderWith(<Probe />);
    await waitFor(() => {
      expect(shown()).toBe('2');
    });
    head = 9;
    await act(() => queryClient.invalidateQueries({ queryKey: ['agents'] }));
    await waitFor(() => {
      expect(shown()).toBe('9');
    });
    expect(calls).toHaveLength(2);
    expect(recentKey('agents', 1000)[0]).toBe('agents');
  });
});
