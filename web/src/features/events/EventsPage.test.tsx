import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route, Routes, useLocation } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionState, StreamEvent } from '../../api/ws';
import { resetScopeForTest, SCOPE_KEY } from '../../app/scope';
import { RESYNC_EVENT } from '../../api/ws';
import { FakeStream, mockFetch, renderWith } from '../../test/render';
import EventsPage from './EventsPage';

afterEach(cleanup);
beforeEach(() => {
  localStorage.clear();
  resetScopeForTest();
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

/** A FakeStream with the connection state the page shows. */
class StatefulStream extends FakeStream {
  state: ConnectionState = 'open';
  private readonly listeners = new Set<() => void>();
  readonly getState = (): ConnectionState => this.state;
  readonly subscribeState = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  setState(s: ConnectionState): void {
    this.state = s;
    for (const l of this.listeners) {
      l();
    }
  }
}

const A1 = '01a2052c-b245-72f3-97b9-7ca366ee7b8f';
const A2 = '01a2052c-0000-72f3-97b9-7ca366ee7b8f';

function ev(seq: number, eventType: string, subject: string, data?: unknown): StreamEvent {
  return { type: 'event', seq, id: `e${seq}`, eventType, source: 'portal/test', subject, time: new Date().toISOString(), data };
}

const created = (seq: number, id: string, name: string, customer = 'acme') =>
  ev(seq, 'portal.agents.v1.AgentCreated', `agents/${id}`, { agent: { id, name, labels: { customer } }, actor: 'token:e2e' });
const history = [
  created(1, A1, 'memory-1'),
  ev(2, 'portal.identity.v1.TokenUsed', 'tokens/t1', { token: { name: 'e2e' }, remoteAddr: '127.0.0.1:1' }),
  created(3, A2, 'api-1', 'globex'),
  ev(4, 'portal.agents.v1.OperationChanged', `agents/${A1}`, {
    operation: { action: 'AGENT_ACTION_PROVISION', status: 'OPERATION_STATUS_RUNNING', actor: 'token:e2e' },
  }),
];

function items(): HTMLElement[] {
  return within(screen.getByRole('list', { name: /events/i })).getAllByRole('listitem');
}

function item(i: number): HTMLElement {
  const el = items()[i];
  if (!el) {
    throw new Error(`no event row ${i}`);
  }
  return el;
}

function emitState(stream: FakeStream, seq: number, id: string, from: string, to: string) {
  act(() => {
    stream.emit({
      seq,
      eventType: 'portal.agents.v1.AgentStateChanged',
      subject: `agents/${id}`,
      data: {
        agent: { id, name: id === A1 ? 'memory-1' : 'api-1', labels: { customer: id === A1 ? 'acme' : 'globex' } },
        transition: { fromState: `AGENT_STATE_${from}`, toState: `AGENT_STATE_${to}`, actor: 'dev:olga@example.com' },
      },
    });
  });
}

function Where() {
  const l = useLocation();
  return <output data-testid="where">{l.pathname + l.search}</output>;
}

function renderPage(path = '/events', stream = new StatefulStream()) {
  const calls = mockFetch({ 'GET /api/v1/events:recent': () => [200, { events: history, seq: 4 }] }, stub);
  const r = renderWith(
    <Routes>
      <Route
        path="/events"
        element={
          <>
            <EventsPage />
            <Where />
          </>
        }
      />
    </Routes>,
    { role: 'viewer', stream, path },
  );
  return { ...r, calls, stream };
}

describe('EventsPage', () => {
  it('lists the recent history newest first, then live events on top, dropping duplicates', async () => {
    const { calls, stream } = renderPage();
    await waitFor(() => {
      expect(items()).toHaveLength(4);
    });
    const url = new URL(calls[0]?.url ?? '', 'http://x');
    expect(url.searchParams.get('topic')).toBe('*');
    expect(url.searchParams.get('limit')).toBe('200');
    expect(stream.handlers.get('*')?.size).toBe(1);
    expect(items()[0]?.textContent).toContain('OperationChanged');
    expect(items()[3]?.textContent).toContain('created memory-1 (by token:e2e)');
    expect(screen.getByText('4 of 4 events')).toBeTruthy();

    // seq 4 again (a replay) is dropped; 5 goes on top.
    act(() => {
      stream.emit({ seq: 4, eventType: 'portal.agents.v1.OperationChanged', subject: `agents/${A1}`, data: {} });
    });
    emitState(stream, 5, A1, 'RUNNING', 'STOPPED');
    expect(items()).toHaveLength(5);
    const top = item(0);
    expect(top.textContent).toContain('state RUNNING → STOPPED (by dev:olga@example.com)');
    expect(screen.getByText('5 of 5 events')).toBeTruthy();
    // The subject links to the agent, by its name.
    const link = within(top).getByRole('link', { name: 'memory-1' });
    expect(link.getAttribute('href')).toBe(`/agents/${A1}`);
    // An operation event names the agent learnt from the others.
    expect(within(item(1)).getByRole('link', { name: 'memory-1' })).toBeTruthy();
    // Relative and absolute time.
    expect(within(top).getByText('just now').closest('time')?.getAttribute('datetime')).toBeTruthy();
  });

  it('reads the history again when the stream could not replay what was missed', async () => {
    const { calls } = renderPage();
    await waitFor(() => {
      expect(items()).toHaveLength(4);
    });
    act(() => {
      window.dispatchEvent(new CustomEvent(RESYNC_EVENT, { detail: ['*'] }));
    });
    await waitFor(() => {
      expect(calls.filter((c) => c.url.startsWith('/api/v1/events:recent'))).toHaveLength(2);
    });
    expect(items()).toHaveLength(4);
  });

  it('narrows by the filters in the URL, and changing them updates the URL', async () => {
    renderPage('/events?type=AgentCreated');
    await waitFor(() => {
      expect(items()).toHaveLength(2);
    });
    expect(screen.getByText('2 of 4 events')).toBeTruthy();
    const type = screen.getByLabelText<HTMLSelectElement>('Type');
    expect(type.value).toBe('AgentCreated');
    expect([...type.options].map((o) => o.value)).toEqual(['', 'AgentCreated', 'OperationChanged', 'TokenUsed']);

    fireEvent.change(screen.getByLabelText('Search'), { target: { value: 'globex' } });
    expect(items()).toHaveLength(1);
    expect(items()[0]?.textContent).toContain('api-1');
    expect(screen.getByTestId('where').textContent).toBe('/events?type=AgentCreated&q=globex');

    fireEvent.change(screen.getByLabelText('Collection'), { target: { value: 'tokens' } });
    expect(screen.getByText('No event matches the filters.')).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    expect(items()).toHaveLength(4);
    expect(screen.getByTestId('where').textContent).toBe('/events');
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Clear filters' }).disabled).toBe(true);
  });

  it('holds new events while paused and counts them', async () => {
    const { stream } = renderPage();
    await waitFor(() => {
      expect(items()).toHaveLength(4);
    });
    fireEvent.click(screen.getByRole('button', { name: 'Pause following' }));
    emitState(stream, 5, A1, 'RUNNING', 'STOPPED');
    emitState(stream, 6, A2, 'STOPPED', 'RUNNING');
    expect(items()).toHaveLength(4);
    expect(screen.getByText(/2 new — resume to show/)).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Resume following' }));
    expect(items()).toHaveLength(6);
    expect(items()[0]?.textContent).toContain('STOPPED → RUNNING');
    expect(screen.queryByText(/new — resume to show/)).toBeNull();
  });

  it('expands an event to its payload as pretty JSON', async () => {
    renderPage();
    await waitFor(() => {
      expect(items()).toHaveLength(4);
    });
    const toggle = within(item(1)).getByRole('button', { name: 'Payload of event 3' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    const pre = document.getElementById(toggle.getAttribute('aria-controls') ?? '');
    expect(pre?.tagName).toBe('PRE');
    expect(pre?.hidden).toBe(false);
    expect(pre?.textContent).toContain('"name": "api-1"');
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(pre?.hidden).toBe(true);
  });

  it('says when the stream is reconnecting', async () => {
    const stream = new StatefulStream();
    renderPage('/events', stream);
    await waitFor(() => {
      expect(items()).toHaveLength(4);
    });
    expect(screen.queryByText(/reconnecting/)).toBeNull();
    act(() => {
      stream.setState('reconnecting');
    });
    expect(screen.getByText(/The event stream is reconnecting/).getAttribute('role')).toBe('status');
    act(() => {
      stream.setState('open');
    });
    expect(screen.queryByText(/The event stream is reconnecting/)).toBeNull();
  });

  it('applies the agent scope and the customer scope', async () => {
    localStorage.setItem(SCOPE_KEY, JSON.stringify({ kind: 'agent', id: A1, name: 'memory-1' }));
    resetScopeForTest();
    renderPage();
    await waitFor(() => {
      expect(items()).toHaveLength(2);
    });
    expect(screen.getByText('2 of 4 events')).toBeTruthy();
    expect(screen.getByText('Agent memory-1')).toBeTruthy();

    act(() => {
      localStorage.setItem(SCOPE_KEY, JSON.stringify({ kind: 'customer', customer: 'globex' }));
      resetScopeForTest();
    });
    expect(items()).toHaveLength(1);
    expect(items()[0]?.textContent).toContain('api-1');

    fireEvent.click(screen.getByRole('button', { name: 'Show all events' }));
    expect(items()).toHaveLength(4);
  });

  it('shows a failed history read and tries again', async () => {
    let fail = true;
    mockFetch(
      {
        'GET /api/v1/events:recent': () =>
          fail ? [503, { code: 14, message: 'the event stream cannot be read now; try again' }] : [200, { events: history, seq: 4 }],
      },
      stub,
    );
    renderWith(<EventsPage />, { role: 'viewer', stream: new StatefulStream(), path: '/events' });
    expect((await screen.findByRole('alert')).textContent).toContain('the event stream cannot be read now');
    fail = false;
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() => {
      expect(items()).toHaveLength(4);
    });
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
