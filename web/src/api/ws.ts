// The one WebSocket client for the gateway's event stream (/ws): it
// reconnects with exponential backoff and jitter, resumes from the last
// sequence it saw, re-subscribes its topics, keeps a heartbeat, and exposes
// its connection state as a store for useSyncExternalStore. The protocol is
// in the repository README ("The WebSocket stream") and gateway/internal/hub.

/** One event of the stream. `data` is the event's payload in protojson. */
export interface StreamEvent<D = unknown> {
  type: 'event';
  seq: number;
  id: string;
  eventType: string;
  source: string;
  subject: string;
  time: string;
  data?: D;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * The window event the app dispatches (detail: the topics) when the stream
 * could not replay what was missed: whoever keeps a copy re-reads it.
 */
export const RESYNC_EVENT = 'portal:resync';

/** Close codes the gateway uses. */
export const CLOSE_ACCESS_ENDED = 4001;
export const CLOSE_LAGGING = 4008;
/** The code this client closes with when the heartbeat goes unanswered. */
export const CLOSE_HEARTBEAT_TIMEOUT = 4000;

/** The part of the browser's WebSocket this client uses (tests inject a fake). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = new (url: string) => WebSocketLike;

const OPEN = 1;

export interface BackoffOptions {
  /** First delay, ms (500). */
  initialMs?: number;
  /** Largest delay, ms (30 000). */
  maxMs?: number;
  /** Growth per failed attempt (2). */
  factor?: number;
}

export interface EventStreamOptions {
  /** ws:// or wss:// URL; the page's own origin + /ws when not given. */
  url?: string;
  /** The WebSocket class; the browser's when not given. */
  WebSocket?: WebSocketFactory;
  backoff?: BackoffOptions;
  /** How often to ping, ms (20 000). */
  heartbeatIntervalMs?: number;
  /** How long to wait for any frame after a ping before reconnecting, ms (10 000). */
  heartbeatTimeoutMs?: number;
  /** Random source in [0, 1) for the jitter (Math.random). */
  random?: () => number;
  /**
   * The stream could not replay what was missed (too old, or the stream was
   * reset): re-read these topics over REST, then follow again.
   */
  onResync?: (topics: string[]) => void;
  /**
   * The server closed the connection because the session ended or the access
   * it relied on changed (4001): check GET /api/v1/me (and log in again if
   * needed). The client reconnects when the returned promise settles, unless
   * close() was called meanwhile.
   */
  onAccessEnded?: () => void | Promise<void>;
  /** A {"type":"error"} frame (a bad request of ours). */
  onServerError?: (message: string) => void;
}

export type EventHandler = (event: StreamEvent) => void;

interface ServerFrame {
  type?: unknown;
  seq?: unknown;
  topics?: unknown;
  events?: unknown;
  message?: unknown;
}

/** The /ws URL of the page's own origin, ws: or wss: by the page's protocol. */
export function defaultStreamURL(loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

/** Whether an event with this subject belongs to the topic. */
export function topicMatches(topic: string, subject: string): boolean {
  return topic === '*' || topic === subject || subject.startsWith(`${topic}/`);
}

/**
 * EventStream is one connection to /ws, shared by the whole app. Call
 * start() once; subscribe() topics with a handler; close() ends it for good.
 */
export class EventStream {
  private readonly opts: Required<Omit<EventStreamOptions, 'onResync' | 'onAccessEnded' | 'onServerError' | 'url' | 'backoff'>> &
    Pick<EventStreamOptions, 'onResync' | 'onAccessEnded' | 'onServerError' | 'url'>;
  private readonly backoff: Required<BackoffOptions>;
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly stateListeners = new Set<() => void>();
  private state: ConnectionState = 'closed';
  private socket: WebSocketLike | undefined;
  private stopped = true;
  private attempt = 0;
  private lastSeq: number | undefined;
  /** The head the last "subscribed" reported: where following resumes after a resync. */
  private head: number | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: EventStreamOptions = {}) {
    this.opts = {
      url: options.url,
      WebSocket: options.WebSocket ?? WebSocket,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 20_000,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 10_000,
      random: options.random ?? Math.random,
      onResync: options.onResync,
      onAccessEnded: options.onAccessEnded,
      onServerError: options.onServerError,
    };
    this.backoff = {
      initialMs: options.backoff?.initialMs ?? 500,
      maxMs: options.backoff?.maxMs ?? 30_000,
      factor: options.backoff?.factor ?? 2,
    };
  }

  // --- the connection state, as a store (useSyncExternalStore) ---

  /** The current state. Bound, so it can be passed as is. */
  readonly getState = (): ConnectionState => this.state;

  /** Calls listener on every state change; returns the unsubscribe. Bound. */
  readonly subscribeState = (listener: () => void): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };

  /** The last sequence seen: where a reconnect resumes. */
  get lastSequence(): number | undefined {
    return this.lastSeq;
  }

  /** The topics subscribed to now. */
  get topics(): string[] {
    return [...this.handlers.keys()];
  }

  // --- lifecycle ---

  /** start connects, and keeps reconnecting until close(). */
  start(): void {
    if (!this.stopped) {
      return;
    }
    this.stopped = false;
    this.attempt = 0;
    this.connect('connecting');
  }

  /** close ends the connection for good (until start() again). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.dropSocket(1000, 'client closed');
    this.setState('closed');
  }

  /**
   * subscribe calls handler with every event of the topic ("*", "agents",
   * "agents/<id>") from now on; returns the unsubscribe.
   */
  subscribe(topic: string, handler: EventHandler): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
      // A topic added on an open connection follows live from here; the
      // caller has just read the current state over REST.
      this.send({ type: 'subscribe', topics: [topic] });
    }
    set.add(handler);
    return () => {
      const s = this.handlers.get(topic);
      if (!s?.delete(handler) || s.size > 0) {
        return;
      }
      this.handlers.delete(topic);
      this.send({ type: 'unsubscribe', topics: [topic] });
    };
  }

  // --- internals ---

  private setState(s: ConnectionState): void {
    if (this.state === s) {
      return;
    }
    this.state = s;
    for (const l of [...this.stateListeners]) {
      l();
    }
  }

  private connect(state: 'connecting' | 'reconnecting'): void {
    this.setState(state);
    const ws = new this.opts.WebSocket(this.opts.url ?? defaultStreamURL());
    this.socket = ws;
    ws.onopen = () => {
      this.onOpen();
    };
    ws.onmessage = (ev: MessageEvent) => {
      this.onFrame(ev.data);
    };
    ws.onclose = (ev: CloseEvent) => {
      this.onClose(ev.code);
    };
    // An error is always followed by a close, which does the work.
    ws.onerror = null;
  }

  private onOpen(): void {
    this.attempt = 0;
    this.setState('open');
    const topics = this.topics;
    if (topics.length > 0) {
      const req: Record<string, unknown> = { type: 'subscribe', topics };
      if (this.lastSeq !== undefined) {
        req.since = this.lastSeq;
      }
      this.send(req);
    }
    this.startHeartbeat();
  }

  private onFrame(data: unknown): void {
    this.armHeartbeat(); // any frame shows the connection is alive
    if (typeof data !== 'string') {
      return;
    }
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case 'event':
        this.dispatch(frame as unknown as StreamEvent);
        break;
      case 'batch':
        if (Array.isArray(frame.events)) {
          for (const e of frame.events as StreamEvent[]) {
            this.dispatch(e);
          }
        }
        break;
      case 'subscribed':
        if (typeof frame.seq === 'number') {
          this.head = frame.seq;
          // Without a position yet, follow from the head: a reconnect then
          // replays everything after it.
          this.lastSeq ??= frame.seq;
        }
        break;
      case 'resync': {
        // What was missed is gone: the app re-reads over REST, and the stream
        // follows from the head it reported (which may be lower than our
        // position when the stream was reset).
        if (this.head !== undefined) {
          this.lastSeq = this.head;
        }
        const topics = Array.isArray(frame.topics) ? (frame.topics as string[]) : this.topics;
        this.opts.onResync?.(topics);
        break;
      }
      case 'error':
        this.opts.onServerError?.(typeof frame.message === 'string' ? frame.message : 'unknown error');
        break;
      // "pong", "unsubscribed" and "lagging" (followed by close 4008, which
      // reconnects with since) need nothing more.
    }
  }

  private dispatch(e: StreamEvent): void {
    if (typeof e.seq !== 'number') {
      return;
    }
    // A replay may overlap what was seen before a reconnect: seq orders the
    // whole stream, so anything not past our position is a duplicate.
    if (this.lastSeq !== undefined && e.seq <= this.lastSeq) {
      return;
    }
    this.lastSeq = e.seq;
    const called = new Set<EventHandler>();
    for (const [topic, hs] of this.handlers) {
      if (!topicMatches(topic, e.subject)) {
        continue;
      }
      for (const h of hs) {
        if (!called.has(h)) {
          called.add(h);
          h(e);
        }
      }
    }
  }

  private onClose(code: number): void {
    this.stopHeartbeat();
    this.socket = undefined;
    if (this.stopped) {
      return;
    }
    if (code === CLOSE_ACCESS_ENDED && this.opts.onAccessEnded) {
      this.setState('reconnecting');
      const reconnect = () => {
        if (!this.stopped && this.socket === undefined && this.reconnectTimer === undefined) {
          this.scheduleReconnect();
        }
      };
      Promise.resolve()
        .then(() => this.opts.onAccessEnded?.())
        .then(reconnect, reconnect);
      return;
    }
    this.scheduleReconnect();
  }

  /** The delay before the given attempt (0-based): exponential, capped, with jitter. */
  delayFor(attempt: number): number {
    const { initialMs, maxMs, factor } = this.backoff;
    const base = Math.min(maxMs, initialMs * factor ** attempt);
    // "Equal jitter": half fixed, half random, so clients that dropped
    // together do not come back together, and the delay still grows.
    return Math.round(base / 2 + (this.opts.random() * base) / 2);
  }

  private scheduleReconnect(): void {
    this.setState('reconnecting');
    const delay = this.delayFor(this.attempt);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped) {
        this.connect('reconnecting');
      }
    }, delay);
  }

  private send(msg: Record<string, unknown>): void {
    if (this.socket?.readyState === OPEN) {
      this.socket.send(JSON.stringify(msg));
    }
  }

  private dropSocket(code: number, reason: string): void {
    this.stopHeartbeat();
    const ws = this.socket;
    this.socket = undefined;
    if (!ws) {
      return;
    }
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      // Closing a socket that never opened may throw; it is gone either way.
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      this.send({ type: 'ping' });
      this.pongTimer ??= setTimeout(() => {
        this.onHeartbeatTimeout();
      }, this.opts.heartbeatTimeoutMs);
    }, this.opts.heartbeatIntervalMs);
  }

  /** A frame arrived: the pending ping is answered. */
  private armHeartbeat(): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private stopHeartbeat(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }

  private onHeartbeatTimeout(): void {
    // The connection is dead without the browser noticing (a sleeping
    // laptop, a silent proxy): drop it and reconnect with since.
    this.dropSocket(CLOSE_HEARTBEAT_TIMEOUT, 'heartbeat timeout');
    if (!this.stopped) {
      this.scheduleReconnect();
    }
  }
}
