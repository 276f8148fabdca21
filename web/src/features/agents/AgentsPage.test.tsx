import { act, cleanup, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { FakeStream, mockFetch, renderWith } from '../../test/render';
import { AgentsPage } from './AgentsPage';

afterEach(cleanup);

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const a1: AgentJson = {
  id: 'a1',
  name: 'memory-1',
  kind: 'AGENT_KIND_MEMORY',
  state: 'AGENT_STATE_RUNNING',
  version: '1.2.0',
  labels: { team: 'finance' },
  etag: '4',
};
const a2: AgentJson = { id: 'a2', name: 'api-1', kind: 'AGENT_KIND_API', state: 'AGENT_STATE_DRAFT', etag: '1' };

function row(id: string): HTMLElement {
  const r = document.querySelector<HTMLElement>(`tr[data-agent-id="${id}"]`);
  if (!r) {
    throw new Error(`no row ${id}`);
  }
  return r;
}

describe('AgentsPage', () => {
  it('lists agents with the URL filters and updates a row from an AgentStateChanged event', async () => {
    const calls = mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1, a2], totalSize: 2 }] }, stub);
    const stream = new FakeStream();
    renderWith(<AgentsPage />, { stream, path: '/agents?query=mem&order_by=update_time%20desc' });

    await screen.findByText('memory-1');
    const url = new URL(calls[0]?.url ?? '', 'http://x');
    expect(url.searchParams.get('query')).toBe('mem');
    expect(url.searchParams.get('order_by')).toBe('update_time desc');
    expect(url.searchParams.get('page_size')).toBe('25');
    expect(within(row('a1')).getByText('Running')).toBeTruthy();
    expect(within(row('a1')).getByText('team=finance')).toBeTruthy();
    expect(stream.handlers.get('agents')?.size).toBe(1);

    act(() => {
      stream.emit({
        seq: 9,
        eventType: 'portal.agents.v1.AgentStateChanged',
        subject: 'agents/a1',
        data: {
          agent: { ...a1, state: 'AGENT_STATE_STOPPED', etag: '5' },
          transition: { fromState: 'AGENT_STATE_RUNNING', toState: 'AGENT_STATE_STOPPED' },
        },
      });
    });

    // The query cache notifies on its next tick.
    await waitFor(() => {
      expect(within(row('a1')).getByText('Stopped')).toBeTruthy();
    });
    expect(within(row('a1')).queryByText('Running')).toBeNull();
    // In place: no refetch of the list.
    expect(calls.filter((c) => c.url.startsWith('/api/v1/agents?') || c.url === '/api/v1/agents')).toHaveLength(1);
  });

  it('drops a deleted agent and re-reads on a created one', async () => {
    const calls = mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1, a2] }] }, stub);
    const stream = new FakeStream();
    renderWith(<AgentsPage />, { stream, path: '/agents' });
    await screen.findByText('api-1');

    act(() => {
      stream.emit({ seq: 1, eventType: 'portal.agents.v1.AgentDeleted', subject: 'agents/a2', data: { agent: a2 } });
    });
    await waitFor(() => {
      expect(screen.queryByText('api-1')).toBeNull();
    });

    act(() => {
      stream.emit({ seq: 2, eventType: 'portal.agents.v1.AgentCreated', subject: 'agents/a3', data: { agent: { id: 'a3' } } });
    });
    await waitFor(() => {
      expect(calls).toHaveLength(2);
    });
  });

  it('hides the action menus from viewers', async () => {
    mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1] }] }, stub);
    renderWith(<AgentsPage />, { role: 'viewer', path: '/agents' });
    await screen.findByText('memory-1');
    expect(screen.queryByRole('button', { name: /Actions for/ })).toBeNull();
  });
});

describe('AgentsPage filtered by state', () => {
  it('drops a row whose agent leaves the filtered state', async () => {
    const calls = mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1] }] }, stub);
    const stream = new FakeStream();
    renderWith(<AgentsPage />, { stream, path: '/agents?state=AGENT_STATE_RUNNING' });
    await screen.findByText('memory-1');
    expect(new URL(calls[0]?.url ?? '', 'http://x').searchParams.getAll('states')).toEqual(['AGENT_STATE_RUNNING']);

    act(() => {
      stream.emit({
        seq: 3,
        eventType: 'portal.agents.v1.AgentStateChanged',
        subject: 'agents/a1',
        data: { agent: { ...a1, state: 'AGENT_STATE_SUSPENDED' } },
      });
    });
    await waitFor(() => {
      expect(screen.queryByText('memory-1')).toBeNull();
    });
    expect(screen.getByText('No agents match.')).toBeTruthy();
  });
});
