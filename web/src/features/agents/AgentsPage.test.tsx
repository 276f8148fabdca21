import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { FakeStream, mockFetch, renderWith } from '../../test/render';
import { setScope } from '../../app/scope';
import { AgentsPage, orderOf, sortingOf } from './AgentsPage';

afterEach(() => {
  cleanup();
  setScope({ kind: 'all' });
  localStorage.clear();
});

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
  const r = document.querySelector<HTMLElement>(`tr[data-row-id="${id}"]`);
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

describe('AgentsPage views, selection and context', () => {
  it('switches to cards and remembers the choice', async () => {
    mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1, a2] }] }, stub);
    renderWith(<AgentsPage />, { path: '/agents' });
    await screen.findByText('memory-1');
    fireEvent.click(screen.getByRole('button', { name: 'Cards' }));
    const cards = screen.getByRole('list', { name: 'Agents' });
    expect(within(cards).getAllByRole('listitem')).toHaveLength(2);
    expect(within(cards).getByText('Running')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Cards' }).getAttribute('aria-pressed')).toBe('true');
    expect(localStorage.getItem('portal-agents-view')).toBe('cards');
    cleanup();
    renderWith(<AgentsPage />, { path: '/agents' });
    await screen.findByText('memory-1');
    expect(screen.getByRole('list', { name: 'Agents' })).toBeTruthy();
  });

  it('offers the bulk actions that apply to the selection, with how many each applies to', async () => {
    mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1, a2] }] }, stub);
    renderWith(<AgentsPage />, { path: '/agents' });
    await screen.findByText('memory-1');
    expect(screen.queryByRole('toolbar', { name: 'Bulk actions' })).toBeNull();
    fireEvent.click(screen.getByLabelText('Select memory-1'));
    let bar = screen.getByRole('toolbar', { name: 'Bulk actions' });
    expect(within(bar).getByText('1 selected')).toBeTruthy();
    expect(within(bar).getAllByRole('button').map((b) => b.textContent)).toEqual([
      'Stop (1)',
      'Suspend (1)',
      'Restart (1)',
      'Revoke (1)',
      'Clear selection',
    ]);
    fireEvent.click(screen.getByLabelText('Select all agents on this page'));
    bar = screen.getByRole('toolbar', { name: 'Bulk actions' });
    expect(within(bar).getByText('2 selected')).toBeTruthy();
    expect(within(bar).getByRole('button', { name: 'Provision (1)' })).toBeTruthy();
    expect(within(bar).getByRole('button', { name: 'Revoke (2)' })).toBeTruthy();
    fireEvent.click(within(bar).getByRole('button', { name: 'Stop (1)' }));
    expect(await screen.findByRole('heading', { name: 'Stop 2 agents' })).toBeTruthy();
    expect(screen.getByTestId('bulk-preview').textContent).toContain('1 agent will be skipped');
  });

  it('gives viewers no selection and no bulk actions', async () => {
    mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1, a2] }] }, stub);
    renderWith(<AgentsPage />, { role: 'viewer', path: '/agents' });
    await screen.findByText('memory-1');
    expect(screen.queryAllByRole('checkbox')).toHaveLength(0);
    fireEvent.click(screen.getByRole('button', { name: 'Cards' }));
    expect(screen.queryAllByRole('checkbox')).toHaveLength(0);
  });

  it('narrows the list to a customer of the context, on the server', async () => {
    setScope({ kind: 'customer', customer: 'acme' });
    const calls = mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [{ ...a1, labels: { customer: 'acme' } }] }] }, stub);
    renderWith(<AgentsPage />, { path: '/agents' });
    await screen.findByText('memory-1');
    expect(new URL(calls[0]?.url ?? '', 'http://x').searchParams.get('label_selector')).toBe('customer=acme');
    expect(screen.getByText('Customer acme')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Show all agents' }));
    await waitFor(() => {
      expect(calls).toHaveLength(2);
    });
    expect(new URL(calls[1]?.url ?? '', 'http://x').searchParams.get('label_selector')).toBeNull();
  });

  it('shows just the agent of the context', async () => {
    setScope({ kind: 'agent', id: '00000000-0000-4000-8000-000000000001', name: 'memory-1' });
    const calls = mockFetch(
      { 'GET /api/v1/agents/00000000-0000-4000-8000-000000000001': () => [200, { agent: { ...a1, id: '00000000-0000-4000-8000-000000000001' } }] },
      stub,
    );
    renderWith(<AgentsPage />, { path: '/agents' });
    await screen.findByText('memory-1');
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/agents/00000000-0000-4000-8000-000000000001']);
    expect(screen.queryByRole('navigation', { name: 'Pages' })).toBeNull();
  });

  it('maps the table sorting to the server order and back', () => {
    expect(sortingOf('update_time desc')).toEqual([{ id: 'updated', desc: true }]);
    expect(sortingOf('create_time')).toEqual([]);
    expect(orderOf([{ id: 'name', desc: true }])).toBe('name desc');
    expect(orderOf([])).toBe('name');
  });

  it('sorts by a column header', async () => {
    const calls = mockFetch({ 'GET /api/v1/agents': () => [200, { agents: [a1, a2] }] }, stub);
    renderWith(<AgentsPage />, { path: '/agents' });
    await screen.findByText('memory-1');
    expect(screen.getByRole('columnheader', { name: /Name/ }).getAttribute('aria-sort')).toBe('ascending');
    fireEvent.click(screen.getByRole('button', { name: /Updated/ }));
    await waitFor(() => {
      expect(calls.length).toBeGreaterThan(1);
    });
    expect(new URL(calls.at(-1)?.url ?? '', 'http://x').searchParams.get('order_by')).toMatch(/^update_time/);
  });
});
