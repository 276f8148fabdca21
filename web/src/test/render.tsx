// Rendering a page as the app does: a query client, a router, the stream and the role.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { MemoryRouter } from 'react-router';
import type { EventHandler, EventStream, StreamEvent } from '../api/ws';
import { RoleContext, StreamContext, type Role } from '../app/context';

/** FakeStream stands in for EventStream: subscriptions, and emit() to push an event. */
export class FakeStream {
  readonly handlers = new Map<string, Set<EventHandler>>();
  subscribe(topic: string, handler: EventHandler): () => void {
    const set = this.handlers.get(topic) ?? new Set<EventHandler>();
    set.add(handler);
    this.handlers.set(topic, set);
    return () => set.delete(handler);
  }
  emit(e: Omit<StreamEvent, 'type' | 'id' | 'source' | 'time'>): void {
    const event: StreamEvent = { type: 'event', id: `e${e.seq}`, source: 'test', time: new Date().toISOString(), ...e };
    for (const [topic, set] of this.handlers) {
      if (topic === '*' || topic === e.subject || e.subject.startsWith(`${topic}/`)) {
        for (const h of set) {
          h(event);
        }
      }
    }
  }
  asStream(): EventStream {
    return this as unknown as EventStream;
  }
}

export function renderWith(
  ui: ReactNode,
  { role = 'operator', stream = new FakeStream(), path = '/' }: { role?: Role; stream?: FakeStream; path?: string } = {},
) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const result = render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter initialEntries={[path]}>
        <StreamContext value={stream.asStream()}>
          <RoleContext value={role}>{ui}</RoleContext>
        </StreamContext>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { ...result, queryClient, stream };
}

export interface FetchCall {
  url: string;
  method: string;
  body: unknown;
  headers: Headers;
}

/** mockFetch answers by "METHOD path" (path without the query) and records the calls. */
export function mockFetch(
  routes: Record<string, (call: FetchCall) => [number, unknown]>,
  stub: (fn: (url: string, init?: RequestInit) => Promise<Response>) => void,
): FetchCall[] {
  const calls: FetchCall[] = [];
  stub((url: string, init?: RequestInit) => {
    const method = init?.method ?? 'GET';
    const call: FetchCall = {
      url,
      method,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
      headers: new Headers(init?.headers),
    };
    calls.push(call);
    const route = routes[`${method} ${url.split('?')[0] ?? ''}`];
    const [status, body] = route ? route(call) : [404, { code: 5, message: `no route ${method} ${url}` }];
    return Promise.resolve(
      new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }),
    );
  });
  return calls;
}
