import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { useLocation } from 'react-router';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { getScope, resetScopeForTest, SCOPE_KEY, setScope } from './scope';
import type { AgentJson } from '../gen/portal/agents/v1/agents_pb';
import { mockFetch, renderWith, type FetchCall } from '../test/render';
import { ContextSelector, customersOf } from './ContextSelector';

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const A1 = '11111111-1111-4111-8111-111111111111';
const A2 = '22222222-2222-4222-8222-222222222222';
const A3 = '33333333-3333-4333-8333-333333333333';
const agents: AgentJson[] = [
  { id: A1, name: 'memory-1', state: 'AGENT_STATE_RUNNING', labels: { customer: 'acme' } },
  { id: A2, name: 'api-1', state: 'AGENT_STATE_ERRORED', labels: { customer: 'globex' } },
  { id: A3, name: 'memory-2', state: 'AGENT_STATE_DRAFT', labels: { customer: 'acme', team: 'x' } },
];

beforeAll(() => {
  // cmdk scrolls the highlighted item into view; jsdom has no layout.
  Element.prototype.scrollIntoView = () => undefined;
});
beforeEach(() => {
  localStorage.clear();
  resetScopeForTest();
});
afterEach(() => {
  cleanup();
  localStorage.clear();
  resetScopeForTest();
});

function Where() {
  const loc = useLocation();
  return <output aria-label="location">{loc.pathname + loc.hash}</output>;
}

function serve(): FetchCall[] {
  return mockFetch(
    {
      'GET /api/v1/agents': (call) => {
        const q = new URL(call.url, 'http://x').searchParams;
        const query = q.get('query') ?? '';
        const found = agents.filter((a) => (a.name ?? '').includes(query));
        return [200, { agents: found.slice(0, Number(q.get('page_size') ?? '50')), totalSize: found.length }];
      },
    },
    stub,
  );
}

function setup() {
  const calls = serve();
  renderWith(
    <>
      <ContextSelector />
      <Where />
    </>,
  );
  return calls;
}

async function openList() {
  const trigger = screen.getByRole('button', { name: /^Context: / });
  trigger.focus();
  fireEvent.click(trigger);
  const input = await screen.findByRole('combobox', { name: 'Search agents and customers' });
  await screen.findByText('memory-1');
  return { trigger, input };
}

describe('customersOf', () => {
  it('is the distinct customer labels, sorted, with how many agents each has', () => {
    expect(customersOf([...agents, { labels: {} }, {}])).toEqual([
      { name: 'acme', agents: 2 },
      { name: 'globex', agents: 1 },
    ]);
    expect(customersOf([])).toEqual([]);
  });
});

describe('ContextSelector', () => {
  it('names the current context on its trigger and reads nothing until opened', () => {
    const calls = setup();
    const trigger = screen.getByRole('button', { name: 'Context: All agents' });
    expect(trigger.getAttribute('aria-expanded')).toBe('false');
    expect(calls).toHaveLength(0);
  });

  it('lists all agents, the customers among 500 agents and 20 agents by name, with the focus in the search box', async () => {
    const calls = setup();
    const { input } = await openList();
    expect(document.activeElement).toBe(input);
    const urls = calls.map((c) => new URL(c.url, 'http://x').searchParams);
    expect(urls.some((q) => q.get('page_size') === '20' && q.get('order_by') === 'name' && !q.has('query'))).toBe(true);
    expect(urls.some((q) => q.get('page_size') === '500')).toBe(true);

    const options = screen.getAllByRole('option').map((o) => o.textContent);
    // All agents first, then the customers, then the agents in the server's order.
    expect(options).toEqual([
      'All agents✓ (current)',
      'Customer acme2 agents',
      'Customer globex1 agent',
      'memory-1Running',
      'api-1Errored',
      'memory-2Draft',
    ]);
    expect(screen.getByText('Customers')).toBeTruthy();
    expect(screen.getByText('Agents')).toBeTruthy();
  });

  it('injects no <style> element (the CSP refuses them)', async () => {
    setup();
    const before = document.querySelectorAll('style').length;
    await openList();
    expect(document.querySelectorAll('style').length).toBe(before);
  });

  it('searches the agents by name as you type, and filters the customers', async () => {
    const calls = setup();
    const { input } = await openList();
    fireEvent.change(input, { target: { value: 'glo' } });
    await waitFor(() => {
      expect(calls.some((c) => new URL(c.url, 'http://x').searchParams.get('query') === 'glo')).toBe(true);
    });
    await waitFor(() => {
      expect(screen.queryByText('memory-1')).toBeNull();
    });
    expect(screen.getByText('Customer globex')).toBeTruthy();
    expect(screen.queryByText('Customer acme')).toBeNull();
    expect(screen.queryByText(/No agent or customer matches/)).toBeNull();

    fireEvent.change(input, { target: { value: 'zzz' } });
    expect(await screen.findByText('No agent or customer matches “zzz”.')).toBeTruthy();
    expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(['All agents✓ (current)']);
  });

  it('chooses a customer with the arrows and Enter: stored, shown on the trigger, closed, focus back', async () => {
    setup();
    const { trigger, input } = await openList();
    fireEvent.keyDown(input, { key: 'ArrowDown' });
    fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => {
      expect(screen.queryByRole('combobox')).toBeNull();
    });
    expect(getScope()).toEqual({ kind: 'customer', customer: 'acme' });
    expect(JSON.parse(localStorage.getItem(SCOPE_KEY) ?? '{}')).toEqual({ kind: 'customer', customer: 'acme' });
    expect(screen.getByRole('button', { name: 'Context: Customer acme' })).toBe(trigger);
    expect(trigger.textContent).toContain('acme');
    await waitFor(() => {
      expect(document.activeElement).toBe(trigger);
    });

    // The customer's clear button goes back to all agents.
    fireEvent.click(screen.getByRole('button', { name: 'Clear context' }));
    expect(getScope()).toEqual({ kind: 'all' });
    expect(localStorage.getItem(SCOPE_KEY)).toBeNull();
  });

  it('closes on Escape with the focus back on the trigger, choosing nothing', async () => {
    setup();
    const { trigger, input } = await openList();
    fireEvent.keyDown(input, { key: 'Escape' });
    await waitFor(() => {
      expect(screen.queryByRole('combobox')).toBeNull();
    });
    expect(document.activeElement).toBe(trigger);
    expect(getScope()).toEqual({ kind: 'all' });
  });

  it('chooses an agent with a click; its quick actions open it, its logs, or clear the context', async () => {
    setup();
    await openList();
    fireEvent.click(screen.getByRole('option', { name: /memory-1/ }));
    expect(getScope()).toEqual({ kind: 'agent', id: A1, name: 'memory-1' });
    const trigger = await screen.findByRole('button', { name: 'Context: Agent memory-1' });
    expect(trigger).toBeTruthy();

    const menu = () => {
      fireEvent.keyDown(screen.getByRole('button', { name: 'Quick actions for memory-1' }), { key: 'Enter' });
      return screen.getByRole('menu');
    };
    expect(
      within(menu())
        .getAllByRole('menuitem')
        .map((i) => i.textContent),
    ).toEqual(['Open agent', 'View logs', 'Clear context']);
    fireEvent.click(screen.getByRole('menuitem', { name: 'Open agent' }));
    expect(screen.getByRole('status', { name: 'location' }).textContent).toBe(`/agents/${A1}`);

    fireEvent.click(within(menu()).getByRole('menuitem', { name: 'View logs' }));
    expect(screen.getByRole('status', { name: 'location' }).textContent).toBe(`/agents/${A1}#logs`);

    fireEvent.click(within(menu()).getByRole('menuitem', { name: 'Clear context' }));
    expect(getScope()).toEqual({ kind: 'all' });
    expect(screen.getByRole('button', { name: 'Context: All agents' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: /Quick actions/ })).toBeNull();
  });

  it('follows a context chosen in another tab', () => {
    setup();
    act(() => {
      localStorage.setItem(SCOPE_KEY, JSON.stringify({ kind: 'customer', customer: 'globex' }));
      window.dispatchEvent(new StorageEvent('storage', { key: SCOPE_KEY }));
    });
    expect(screen.getByRole('button', { name: 'Context: Customer globex' })).toBeTruthy();
    act(() => {
      setScope({ kind: 'all' });
    });
    expect(screen.getByRole('button', { name: 'Context: All agents' })).toBeTruthy();
  });

  it('says when the agents cannot be listed', async () => {
    mockFetch({ 'GET /api/v1/agents': () => [503, { code: 14, message: 'agents service unavailable' }] }, stub);
    renderWith(<ContextSelector />);
    fireEvent.click(screen.getByRole('button', { name: 'Context: All agents' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Cannot list agents: agents service unavailable');
  });
});
