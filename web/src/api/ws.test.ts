import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CLOSE_ACCESS_ENDED,
  CLOSE_HEARTBEAT_TIMEOUT,
  CLOSE_LAGGING,
  EventStream,
  defaultStreamURL,
  topicMatches,
  type ConnectionState,
  type EventStreamOptions,
  type StreamEvent,
  type WebSocketLike,
} from './ws';

/** FakeSocket stands in for the browser's WebSocket; the test plays the server. */
class FakeSocket implements WebSocketLike {
  static instances: FakeSocket[] = [];
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  sent: unknown[] = [];
  closedWith: number | undefined;

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) {
      throw new Error('send on a socket that is not open');
    }
    this.sent.push(JSON.parse(data));
  }

  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  // --- the server's side ---

  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  receive(frame: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(frame) }));
  }

  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.(new CloseEvent('close', { code }));
  }

  /** The requests sent of a type. */
  requests(type: string): Record<string, unknown>[] {
    return (this.sent as Record<string, unknown>[]).filter((m) => m.type === type);
  }
}

function lastSocket(): FakeSocket {
  const s = FakeSocket.instances.at(-1);
  if (!s) {
    throw new Error('no socket was made');
  }
  return s;
}

function event(seq: number, subject = 'agents/a1', eventType = 'portal.agents.v1.AgentStateChanged'): StreamEvent {
  return {
    type: 'event',
    seq,
    id: `ev-${seq}`,
    eventType,
    source: 'portal/agents',
    subject,
    time: '2025-01-01T00:00:00Z',
    data: { agent: { id: 'a1' } },
  };
}

function newStream(opts: EventStreamOptions = {}): EventStream {
  // random() = 1 makes the jitter its largest, so delays are exact.
  return new EventStream({ url: 'ws://portal.test/ws', WebSocket: FakeSocket, random: () => 1, ...opts });
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances = [];
});

afterEach(() => {
  vi.useRealTimers();
});

describe('EventStream', () => {
  it('uses the page origin with ws: or wss:', () => {
    expect(defaultStreamURL({ protocol: 'https:', host: 'portal.example:8443' })).toBe('wss://portal.example:8443/ws');
    expect(defaultStreamURL({ protocol: 'http:', host: 'localhost:8080' })).toBe('ws://localhost:8080/ws');
  });

  it('matches topics to subjects', () => {
    expect(topicMatches('*', 'agents/a1')).toBe(true);
    expect(topicMatches('agents', 'agents/a1')).toBe(true);
    expect(topicMatches('agents/a1', 'agents/a1')).toBe(true);
    expect(topicMatches('agents/a2', 'agents/a1')).toBe(false);
    expect(topicMatches('agent', 'agents/a1')).toBe(false);
  });

  it('exposes its state as a store', () => {
    const stream = newStream();
    const seen: ConnectionState[] = [];
    const unsubscribe = stream.subscribeState(() => seen.push(stream.getState()));
    expect(stream.getState()).toBe('closed');
    stream.start();
    lastSocket().open();
    lastSocket().serverClose(1006);
    vi.advanceTimersByTime(500);
    lastSocket().open();
    stream.close();
    unsubscribe();
    stream.start();
    expect(seen).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
  });

  it('subscribes on open, dispatches events to matching topics, unsubscribes the last handler', () => {
    const stream = newStream();
    const all: number[] = [];
    const one: number[] = [];
    stream.subscribe('agents', (e) => all.push(e.seq));
    stream.start();
    const ws = lastSocket();
    expect(ws.url).toBe('ws://portal.test/ws');
    ws.open();
    expect(ws.requests('subscribe')).toEqual([{ type: 'subscribe', topics: ['agents'] }]);

    const off = stream.subscribe('agents/a2', (e) => one.push(e.seq));
    expect(ws.requests('subscribe')[1]).toEqual({ type: 'subscribe', topics: ['agents/a2'] });
    ws.receive({ type: 'subscribed', topics: ['agents'], seq: 10 });
    ws.receive(event(11, 'agents/a1'));
    ws.receive(event(12, 'agents/a2'));
    expect(all).toEqual([11, 12]);
    expect(one).toEqual([12]);

    off();
    expect(ws.requests('unsubscribe')).toEqual([{ type: 'unsubscribe', topics: ['agents/a2'] }]);
    ws.receive(event(13, 'agents/a2'));
    expect(one).toEqual([12]);
    expect(stream.lastSequence).toBe(13);
  });

  it('unpacks batch frames in order', () => {
    const stream = newStream();
    const got: number[] = [];
    stream.subscribe('*', (e) => got.push(e.seq));
    stream.start();
    lastSocket().open();
    lastSocket().receive({ type: 'batch', events: [event(5), event(6, 'identity/u1'), event(7)] });
    expect(got).toEqual([5, 6, 7]);
    expect(stream.lastSequence).toBe(7);
  });

  it('backs off exponentially with jitter, capped at 30 s, and resets after a connection', () => {
    const stream = newStream();
    stream.start();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      const before = FakeSocket.instances.length;
      lastSocket().serverClose(1006); // the upgrade failed
      expect(stream.getState()).toBe('reconnecting');
      // Find the delay: no new socket a millisecond early, one right on time.
      const want = Math.min(30_000, 500 * 2 ** i);
      vi.advanceTimersByTime(want - 1);
      expect(FakeSocket.instances.length).toBe(before);
      vi.advanceTimersByTime(1);
      expect(FakeSocket.instances.length).toBe(before + 1);
      delays.push(want);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);

    lastSocket().open();
    lastSocket().serverClose(1006);
    vi.advanceTimersByTime(500);
    expect(FakeSocket.instances).toHaveLength(11);
  });

  it('jitters between half and all of the delay', () => {
    expect(newStream({ random: () => 0 }).delayFor(3)).toBe(2000);
    expect(newStream({ random: () => 0.5 }).delayFor(3)).toBe(3000);
    expect(newStream({ random: () => 1 }).delayFor(3)).toBe(4000);
    expect(newStream({ random: () => 0 }).delayFor(20)).toBe(15_000);
    expect(newStream({ random: () => 1 }).delayFor(20)).toBe(30_000);
  });

  it('resumes with since = the last seq and re-subscribes every topic after a reconnect', () => {
    const stream = newStream();
    const got: number[] = [];
    stream.subscribe('agents', (e) => got.push(e.seq));
    stream.subscribe('agents/a9', () => undefined);
    stream.start();
    let ws = lastSocket();
    ws.open();
    expect(ws.requests('subscribe')[0]).toEqual({ type: 'subscribe', topics: ['agents', 'agents/a9'] });
    ws.receive({ type: 'subscribed', topics: ['agents', 'agents/a9'], seq: 40 });
    ws.receive(event(41));
    ws.receive(event(42));

    ws.serverClose(1006);
    vi.advanceTimersByTime(500);
    ws = lastSocket();
    ws.open();
    expect(ws.requests('subscribe')).toEqual([{ type: 'subscribe', topics: ['agents', 'agents/a9'], since: 42 }]);
    // The replay may overlap what was seen: duplicates are dropped.
    ws.receive({ type: 'subscribed', topics: ['agents', 'agents/a9'], seq: 45 });
    ws.receive({ type: 'batch', events: [event(42), event(43), event(44)] });
    ws.receive(event(45));
    expect(got).toEqual([41, 42, 43, 44, 45]);
  });

  it('follows from the head when it had no position, so a reconnect replays what came after', () => {
    const stream = newStream();
    stream.subscribe('agents', () => undefined);
    stream.start();
    lastSocket().open();
    lastSocket().receive({ type: 'subscribed', topics: ['agents'], seq: 57 });
    lastSocket().serverClose(1001);
    vi.advanceTimersByTime(500);
    lastSocket().open();
    expect(lastSocket().requests('subscribe')[0]).toMatchObject({ since: 57 });
  });

  it('calls onResync and follows from the head it was given', () => {
    const onResync = vi.fn();
    const stream = newStream({ onResync });
    const got: number[] = [];
    stream.subscribe('agents', (e) => got.push(e.seq));
    stream.start();
    let ws = lastSocket();
    ws.open();
    ws.receive(event(900));
    ws.serverClose(1006);
    vi.advanceTimersByTime(500);
    ws = lastSocket();
    ws.open();
    expect(ws.requests('subscribe')[0]).toMatchObject({ since: 900 });
    // The stream was reset: its head is behind our position.
    ws.receive({ type: 'subscribed', topics: ['agents'], seq: 3 });
    ws.receive({ type: 'resync', topics: ['agents'], reason: 'sequence 900 is ahead of the stream (head 3)' });
    expect(onResync).toHaveBeenCalledWith(['agents']);
    ws.receive(event(4));
    expect(got).toEqual([900, 4]);
    expect(stream.lastSequence).toBe(4);
  });

  it('reconnects with since after lagging (close 4008)', () => {
    const stream = newStream();
    stream.subscribe('agents', () => undefined);
    stream.start();
    let ws = lastSocket();
    ws.open();
    ws.receive(event(70));
    ws.receive({ type: 'lagging', lastSeq: 70, reason: 'too far behind' });
    ws.serverClose(CLOSE_LAGGING);
    expect(stream.getState()).toBe('reconnecting');
    vi.advanceTimersByTime(500);
    ws = lastSocket();
    ws.open();
    expect(ws.requests('subscribe')[0]).toEqual({ type: 'subscribe', topics: ['agents'], since: 70 });
  });

  it('calls onAccessEnded on close 4001, then reconnects', async () => {
    let finishCheck: () => void = () => undefined;
    const onAccessEnded = vi.fn(
      () =>
        new Promise<void>((resolve) => {
          finishCheck = resolve;
        }),
    );
    const stream = newStream({ onAccessEnded });
    stream.subscribe('agents', () => undefined);
    stream.start();
    lastSocket().open();
    lastSocket().receive(event(5));
    lastSocket().serverClose(CLOSE_ACCESS_ENDED);
    await vi.advanceTimersByTimeAsync(0);
    expect(onAccessEnded).toHaveBeenCalledTimes(1);
    expect(stream.getState()).toBe('reconnecting');

    // No reconnect while /api/v1/me is being checked.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(1);

    finishCheck();
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeSocket.instances).toHaveLength(2);
    lastSocket().open();
    expect(lastSocket().requests('subscribe')[0]).toMatchObject({ since: 5 });
  });

  it('does not reconnect after 4001 when closed during the check', async () => {
    const stream = newStream({
      onAccessEnded: () => {
        stream.close();
      },
    });
    stream.start();
    lastSocket().open();
    lastSocket().serverClose(CLOSE_ACCESS_ENDED);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(stream.getState()).toBe('closed');
  });

  it('pings every 20 s and reconnects when nothing answers within 10 s', () => {
    const stream = newStream();
    stream.subscribe('agents', () => undefined);
    stream.start();
    const ws = lastSocket();
    ws.open();
    ws.receive(event(8));

    vi.advanceTimersByTime(20_000);
    expect(ws.requests('ping')).toHaveLength(1);
    ws.receive({ type: 'pong' });
    vi.advanceTimersByTime(10_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(stream.getState()).toBe('open');

    // The next ping goes unanswered.
    vi.advanceTimersByTime(10_000);
    expect(ws.requests('ping')).toHaveLength(2);
    vi.advanceTimersByTime(9_999);
    expect(stream.getState()).toBe('open');
    vi.advanceTimersByTime(1);
    expect(ws.closedWith).toBe(CLOSE_HEARTBEAT_TIMEOUT);
    expect(stream.getState()).toBe('reconnecting');

    vi.advanceTimersByTime(500);
    expect(FakeSocket.instances).toHaveLength(2);
    lastSocket().open();
    expect(lastSocket().requests('subscribe')[0]).toEqual({ type: 'subscribe', topics: ['agents'], since: 8 });
  });

  it('counts any frame as an answer to the ping', () => {
    const stream = newStream();
    stream.start();
    lastSocket().open();
    vi.advanceTimersByTime(20_000);
    lastSocket().receive(event(1));
    vi.advanceTimersByTime(15_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(stream.getState()).toBe('open');
  });

  it('reports server errors', () => {
    const onServerError = vi.fn();
    const stream = newStream({ onServerError });
    stream.start();
    lastSocket().open();
    lastSocket().receive({ type: 'error', message: 'topics: "x y" is not a topic' });
    expect(onServerError).toHaveBeenCalledWith('topics: "x y" is not a topic');
  });

  it('close() stops for good: no reconnect, no timers', () => {
    const stream = newStream();
    stream.start();
    const ws = lastSocket();
    ws.open();
    stream.close();
    expect(ws.closedWith).toBe(1000);
    expect(stream.getState()).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it('close() cancels a pending reconnect', () => {
    const stream = newStream();
    stream.start();
    lastSocket().serverClose(1006);
    stream.close();
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});
