import { act, cleanup, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionState, StreamEvent } from '../../api/ws';
import { getScope, resetScopeForTest, SCOPE_KEY, setScope } from '../../app/scope';
import type { AgentJson, AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import { FakeStream, mockFetch, renderWith, type FetchCall } from '../../test/render';
import { DashboardPage } from './DashboardPage';

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

/** FakeStream with the connection state the health banner reads. */
class StatefulStream extends FakeStream {
  state: ConnectionState = 'open';
  private readonly listeners = new Set<() => void>();
  getState = () => this.state;
  subscribeState = (l: () => void) => {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  };
  setState(s: ConnectionState) {
    this.state = s;
    for (const l of [...this.listeners]) {
      l();
    }
  }
}

const A1 = '11111111-1111-4111-8111-111111111111';
const A2 = '22222222-2222-4222-8222-222222222222';
const A3 = '33333333-3333-4333-8333-333333333333';

const NOW = Date.now();
const ago = (min: number) => new Date(NOW - min * 60_000).toISOString();

const mem: AgentJson = {
  id: A1,
  name: 'memory-1',
  kind: 'AGENT_KIND_MEMORY',
  state: 'AGENT_STATE_RUNNING',
  version: '1.2.0',
  owner: 'team-ml',
  labels: { customer: 'acme' },
  updateTime: ago(30),
};
const api: AgentJson = {
  id: A2,
  name: 'api-1',
  kind: 'AGENT_KIND_API',
  state: 'AGENT_STATE_ERRORED',
  labels: { customer: 'acme' },
  updateTime: ago(10),
};
const data: AgentJson = {
  id: A3,
  name: 'data-1',
  kind: 'AGENT_KIND_DATA',
  state: 'AGENT_STATE_DRAFT',
  labels: { customer: 'globex' },
  updateTime: ago(50),
};

function changed(seq: number, agent: AgentJson, from: AgentStateJson, to: AgentStateJson, time: string): StreamEvent {
  return {
    type: 'event',
    seq,
    id: `e${seq}`,
    eventType: 'portal.agents.v1.AgentStateChanged',
    source: 'portal/agents',
    subject: `agents/${agent.id ?? ''}`,
    time,
    data: {
      agent: { ...agent, state: to },
      transition: { agentId: agent.id, fromState: from, toState: to, action: 'AGENT_ACTION_START', actor: 'olga', time },
    },
  };
}

// The last hour: api-1 went RUNNING → ERRORED 10 minutes ago; data-1 was created 50 minutes ago.
const history: StreamEvent[] = [
  {
    type: 'event',
    seq: 5,
    id: 'e5',
    eventType: 'portal.agents.v1.AgentCreated',
    source: 'portal/agents',
    subject: `agents/${A3}`,
    time: ago(50),
    data: { agent: data, actor: 'ada' },
  },
  changed(7, api, 'AGENT_STATE_RUNNING', 'AGENT_STATE_ERRORED', ago(10)),
];

interface Serve {
  agents?: AgentJson[];
  events?: StreamEvent[];
  list?: [number, unknown];
  recent?: [number, unknown];
  ready?: [number, unknown];
}

function serve(opts: Serve = {}): FetchCall[] {
  const agents = opts.agents ?? [mem, api, data];
  return mockFetch(
    {
      'GET /api/v1/agents': (call) => {
        if (opts.list) {
          return opts.list;
        }
        const sel = new URL(call.url, 'http://x').searchParams.get('label_selector');
        const found = sel ? agents.filter((a) => `customer=${a.labels?.customer ?? ''}` === sel) : agents;
        return [200, { agents: found, totalSize: found.length }];
      },
      [`GET /api/v1/agents/${A1}`]: () => [200, { agent: mem }],
      'GET /api/v1/events:recent': (call) => {
        if (opts.recent) {
          return opts.recent;
        }
        const topic = new URL(call.url, 'http://x').searchParams.get('topic');
        return [200, topic === 'agents' ? { events: opts.events ?? history, seq: 9 } : { events: [], seq: 9 }];
      },
      'GET /readyz': () => opts.ready ?? [200, { status: 'ok', checks: { agents: 'ok', nats: 'ok' } }],
    },
    stub,
  );
}

function kpi(label: string): HTMLElement {
  return within(screen.getByRole('region', { name: 'Key figures' })).getByRole('link', { name: new RegExp(`^${label}`) });
}

/** A KPI card's value. */
function kpiValue(label: string): string | null | undefined {
  return kpi(label).querySelector('.metric-card-value > span')?.textContent;
}

function card(id: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-agent-id="${id}"]`);
  if (!el) {
    throw new Error(`no card for ${id}`);
  }
  return el;
}

beforeEach(() => {
  localStorage.clear();
  resetScopeForTest();
});
afterEach(() => {
  cleanup();
  localStorage.clear();
  resetScopeForTest();
});

async function loaded() {
  await screen.findByText('memory-1');
  await screen.findByRole('list', { name: 'Recent activity' });
  await waitFor(() => {
    expect(screen.getByRole('status').textContent).not.toMatch(/Checking|Counting/);
  });
}

describe('DashboardPage', () => {
  it('shows the health, the key figures with their last hour, the states, the activity and the agents', async () => {
    const calls = serve();
    const stream = new StatefulStream();
    renderWith(<DashboardPage />, { stream });
    await loaded();

    expect(screen.getByRole('status').textContent).toBe('Degraded: 1 agent in error');
    expect(kpiValue('Agents')).toBe('3');
    expect(kpiValue('Running')).toBe('1');
    expect(kpiValue('In error')).toBe('1');
    expect(kpiValue('State changes')).toBe('1');
    expect(kpi('Running').getAttribute('href')).toBe('/agents?state=AGENT_STATE_RUNNING');
    expect(kpi('In error').getAttribute('href')).toBe('/agents?state=AGENT_STATE_ERRORED');
    // The last hour, rebuilt from the events: api-1 was running until 10 minutes ago.
    expect(within(kpi('Running')).getByText('down 1 from an hour ago')).toBeTruthy();
    expect(within(kpi('In error')).getByText('up 1 from an hour ago')).toBeTruthy();
    expect(within(kpi('Agents')).getByText('up 1 from an hour ago')).toBeTruthy();
    expect(within(kpi('Running')).getByRole('img').getAttribute('aria-label')).toBe(
      'Running, last 60 minutes: from 2 to 1, between 1 and 2',
    );

    // Agents by state: a legend of links with the counts.
    const legend = screen.getByRole('list', { name: 'Agents by state' });
    expect(
      within(legend)
        .getAllByRole('link')
        .map((l) => [l.textContent, l.getAttribute('href')]),
    ).toEqual([
      ['Draft1', '/agents?state=AGENT_STATE_DRAFT'],
      ['Running1', '/agents?state=AGENT_STATE_RUNNING'],
      ['Errored1', '/agents?state=AGENT_STATE_ERRORED'],
    ]);

    // Recent activity, newest first, linking to the agents.
    const activity = within(screen.getByRole('list', { name: 'Recent activity' })).getAllByRole('listitem');
    expect(activity.map((li) => li.querySelector('.tl-title')?.textContent)).toEqual([
      'Errored: api-1 RUNNING → ERRORED',
      'data-1 created',
    ]);
    expect(within(activity[0] ?? document.body).getByRole('link', { name: 'api-1' }).getAttribute('href')).toBe(`/agents/${A2}`);

    // The agents' cards.
    expect(within(card(A1)).getByRole('link', { name: 'memory-1' }).getAttribute('href')).toBe(`/agents/${A1}`);
    expect(within(card(A1)).getByText('Running')).toBeTruthy();
    expect(within(card(A1)).getByText('memory')).toBeTruthy();
    expect(within(card(A1)).getByText('1.2.0')).toBeTruthy();
    expect(within(card(A1)).getByText('team-ml')).toBeTruthy();
    expect(within(card(A1)).getByText('acme')).toBeTruthy();
    expect(within(card(A1)).getByText('30 min ago')).toBeTruthy();
    // api-1's state began with the transition 10 minutes ago.
    expect(within(card(A2)).getByText(/Errored for/).textContent).toBe('Errored for 10 min');
    expect(screen.getByRole('link', { name: 'View all 3 agents' }).getAttribute('href')).toBe('/agents');

    // What it read: the first page of agents, the last 1000 agent events, /readyz once.
    const list = calls.find((c) => c.url.startsWith('/api/v1/agents?'));
    expect(new URL(list?.url ?? '', 'http://x').searchParams.get('page_size')).toBe('500');
    const recent = calls.filter((c) => c.url.startsWith('/api/v1/events:recent'));
    expect(recent.map((c) => new URL(c.url, 'http://x').searchParams.get('topic')).sort()).toEqual(['agents', 'bulkOperations']);
    expect(new URL(recent.find((c) => c.url.includes('topic=agents'))?.url ?? '', 'http://x').searchParams.get('limit')).toBe('1000');
    expect(calls.filter((c) => c.url === '/readyz')).toHaveLength(1);
    expect(stream.handlers.get('agents')?.size).toBeGreaterThan(0);
    expect(stream.handlers.get('bulkOperations')?.size).toBe(1);
  });

  it('follows a state change from the stream: card, figures, activity and health, without reading again', async () => {
    const calls = serve();
    const stream = new StatefulStream();
    renderWith(<DashboardPage />, { stream });
    await loaded();
    const before = calls.length;

    act(() => {
      // Already in the recent events (seq 7 <= head 9): not shown twice.
      stream.emit(changed(7, api, 'AGENT_STATE_RUNNING', 'AGENT_STATE_ERRORED', ago(10)));
      stream.emit(changed(12, api, 'AGENT_STATE_ERRORED', 'AGENT_STATE_RUNNING', new Date().toISOString()));
    });

    await waitFor(() => {
      expect(kpiValue('Running')).toBe('2');
    });
    expect(kpiValue('In error')).toBe('0');
    expect(kpiValue('State changes')).toBe('2');
    expect(within(card(A2)).getByText('Running')).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('All systems operational');
    const titles = within(screen.getByRole('list', { name: 'Recent activity' }))
      .getAllByRole('listitem')
      .map((li) => li.querySelector('.tl-title')?.textContent);
    expect(titles).toEqual(['Running: api-1 ERRORED → RUNNING', 'Errored: api-1 RUNNING → ERRORED', 'data-1 created']);
    expect(calls.length).toBe(before);
  });

  it('narrows everything to a customer, says so, and clears it', async () => {
    setScope({ kind: 'customer', customer: 'acme' });
    const calls = serve();
    const stream = new StatefulStream();
    renderWith(<DashboardPage />, { stream });
    await loaded();

    expect(screen.getByText('Customer acme')).toBeTruthy();
    const list = calls.find((c) => c.url.startsWith('/api/v1/agents?'));
    expect(new URL(list?.url ?? '', 'http://x').searchParams.get('label_selector')).toBe('customer=acme');
    expect(kpiValue('Agents')).toBe('2');
    expect(screen.queryByText('data-1')).toBeNull();
    // globex's creation is not acme's activity.
    expect(
      within(screen.getByRole('list', { name: 'Recent activity' }))
        .getAllByRole('listitem')
        .map((li) => li.querySelector('.tl-title')?.textContent),
    ).toEqual(['Errored: api-1 RUNNING → ERRORED']);
    // globex's changes do not move acme's figures.
    act(() => {
      stream.emit(changed(20, data, 'AGENT_STATE_DRAFT', 'AGENT_STATE_ERRORED', new Date().toISOString()));
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(kpiValue('In error')).toBe('1');
    expect(kpiValue('State changes')).toBe('1');

    act(() => {
      screen.getByRole('button', { name: 'Show all agents' }).click();
    });
    expect(getScope()).toEqual({ kind: 'all' });
    expect(localStorage.getItem(SCOPE_KEY)).toBeNull();
    await waitFor(() => {
      expect(kpiValue('Agents')).toBe('3');
    });
  });

  it('narrows to one agent, read by its id', async () => {
    setScope({ kind: 'agent', id: A1, name: 'memory-1' });
    const calls = serve();
    renderWith(<DashboardPage />, { stream: new StatefulStream() });
    await screen.findByRole('link', { name: 'memory-1' });
    await waitFor(() => {
      expect(kpiValue('Agents')).toBe('1');
    });
    expect(screen.getByText('Agent memory-1')).toBeTruthy();
    expect(calls.some((c) => c.url === `/api/v1/agents/${A1}`)).toBe(true);
    expect(calls.some((c) => c.url.startsWith('/api/v1/agents?'))).toBe(false);
    expect(kpiValue('In error')).toBe('0');
    expect(screen.queryByText('api-1')).toBeNull();
  });

  it('says there are no agents yet, with the way to create one', async () => {
    serve({ agents: [], events: [] });
    renderWith(<DashboardPage />, { stream: new StatefulStream() });
    const empties = await screen.findAllByText(/No agents yet — create one from the/);
    expect(empties.length).toBeGreaterThan(0);
    expect(within(empties[0] ?? document.body).getByRole('link', { name: 'Agents page' }).getAttribute('href')).toBe('/agents');
    expect(screen.getByText('No recent events for the agents.')).toBeTruthy();
    await waitFor(() => {
      expect(screen.getByRole('status').textContent).toBe('All systems operational');
    });
    expect(kpiValue('Agents')).toBe('0');
    expect(screen.queryByRole('link', { name: /View all/ })).toBeNull();
  });

  it('shows what failed: the list, the recent events, the readiness', async () => {
    serve({
      list: [503, { code: 14, message: 'agents service unavailable' }],
      recent: [400, { code: 3, message: 'limit: 5000 is not between 1 and 1000' }],
      ready: [503, { status: 'unavailable', checks: { agents: 'unreachable: refused', nats: 'ok' } }],
    });
    renderWith(<DashboardPage />, { stream: new StatefulStream() });
    const alerts = await screen.findAllByRole('alert');
    await waitFor(() => {
      expect(screen.getAllByRole('alert').map((a) => a.textContent)).toEqual(
        expect.arrayContaining([
          'Cannot list agents: agents service unavailable',
          'Cannot read the recent events: limit: 5000 is not between 1 and 1000',
        ]),
      );
    });
    expect(alerts.length).toBeGreaterThan(0);
    await waitFor(() => {
      expect(screen.getByRole('status').textContent).toBe(
        'Degraded: agents unreachable: refused · Cannot count the agents in error: agents service unavailable',
      );
    });
    expect(screen.getByRole('status').getAttribute('data-tone')).toBe('error');
  });

  it('warns that the figures may be stale while the stream reconnects', async () => {
    serve();
    const stream = new StatefulStream();
    renderWith(<DashboardPage />, { stream });
    await loaded();
    act(() => {
      stream.setState('reconnecting');
    });
    expect(screen.getByRole('status').textContent).toBe(
      'Degraded: 1 agent in error · Event stream reconnecting — figures may be stale',
    );
    act(() => {
      stream.setState('open');
    });
    expect(screen.getByRole('status').textContent).toBe('Degraded: 1 agent in error');
  });

  it('shows busy skeletons while loading', () => {
    // Nothing ever answers.
    vi.stubGlobal('fetch', vi.fn(() => new Promise<Response>(() => undefined)));
    renderWith(<DashboardPage />, { stream: new StatefulStream() });
    expect(kpi('Agents').getAttribute('aria-busy')).toBe('true');
    expect(screen.getByText('Loading agents…')).toBeTruthy();
    expect(screen.getByText('Loading recent activity…')).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('Checking the platform’s health…');
  });
});
