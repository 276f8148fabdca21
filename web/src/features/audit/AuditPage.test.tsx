import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { Route, Routes, useLocation } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Role } from '../../app/context';
import { resetScopeForTest, SCOPE_KEY } from '../../app/scope';
import type { EntryJson } from '../../gen/portal/audit/v1/audit_pb';
import { FakeStream, mockFetch, renderWith, type FetchCall } from '../../test/render';
import AuditPage from './AuditPage';

afterEach(cleanup);
beforeEach(() => {
  localStorage.clear();
  resetScopeForTest();
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const ID = '01a2052c-b245-72f3-97b9-7ca366ee7b8f';

function entry(seq: number, over: Partial<EntryJson> = {}): EntryJson {
  return {
    seq: String(seq),
    eventId: `ev-${seq}`,
    streamSeq: String(seq),
    time: '2026-01-01T10:00:00Z',
    recordTime: '2026-01-01T10:00:01Z',
    actor: 'token:e2e',
    action: 'portal.agents.v1.AgentStateChanged',
    resource: `agents/${ID}`,
    outcome: 'success',
    source: 'portal/agents',
    summary: `token:e2e portal.agents.v1.AgentStateChanged agents/${ID}`,
    details: { transition: { toState: 'AGENT_STATE_PROVISIONED' } },
    prevHash: 'AAEC/w==',
    hash: 'q83v',
    ...over,
  };
}

const verified = { ok: true, entriesChecked: '1234', firstBrokenSeq: '0', reason: '', lastSeq: '1234', lastHash: 'q83vASNFZ4k=' };

function Where() {
  const l = useLocation();
  return <output data-testid="where">{l.pathname + l.search}</output>;
}

interface Setup {
  path?: string;
  role?: Role;
  search?: (c: FetchCall) => [number, unknown];
  verify?: () => [number, unknown];
}

function setup({
  path = '/audit',
  role = 'operator',
  search = () => [200, { entries: [entry(2), entry(1, { outcome: 'denied', resource: 'tokens/t1' })] }],
  verify = () => [200, verified],
}: Setup = {}) {
  const calls = mockFetch({ 'GET /api/v1/audit/entries': search, 'GET /api/v1/audit/entries:verify': verify }, stub);
  const stream = new FakeStream();
  const r = renderWith(
    <Routes>
      <Route
        path="/audit"
        element={
          <>
            <AuditPage />
            <Where />
          </>
        }
      />
    </Routes>,
    { role, stream, path },
  );
  const searches = () => calls.filter((c) => c.url.startsWith('/api/v1/audit/entries?') || c.url === '/api/v1/audit/entries');
  const q = (i: number) => new URL(searches()[i]?.url ?? '', 'http://x').searchParams;
  return { ...r, calls, stream, searches, q };
}

function rows(): HTMLElement[] {
  const region = screen.getByRole('region', { name: 'Audit entries' });
  return within(region).getAllByRole('row').slice(1);
}

describe('AuditPage', () => {
  it('searches with the URL state and shows the entries, a resource linked to its agent and the outcome as text', async () => {
    const { q } = setup({ path: '/audit?actor=token%3Ae2e&action=AgentStateChanged&from=2026-01-01T00%3A00%3A00Z' });
    await screen.findByText('Seq');
    await waitFor(() => {
      expect(rows()).toHaveLength(2);
    });
    expect(q(0).get('actor')).toBe('token:e2e');
    expect(q(0).get('action')).toBe('portal.agents.v1.AgentStateChanged');
    expect(q(0).get('start_time')).toBe('2026-01-01T00:00:00Z');
    expect(q(0).get('page_size')).toBe('50');
    expect(q(0).has('resource')).toBe(false);

    const first = rows()[0] ?? document.body;
    expect(within(first).getByText('AgentStateChanged')).toBeTruthy();
    expect(within(first).getByRole('link', { name: `agents/${ID}` }).getAttribute('href')).toBe(`/agents/${ID}`);
    expect(within(first).getByText('success')).toBeTruthy();
    const second = rows()[1] ?? document.body;
    expect(within(second).getByText('denied')).toBeTruthy();
    expect(within(second).queryByRole('link')).toBeNull();
    expect(screen.getByText(/2 entries shown, the last of this search/)).toBeTruthy();
    // The form starts from the URL.
    expect(screen.getByLabelText<HTMLInputElement>('Actor').value).toBe('token:e2e');
    expect(screen.getByLabelText<HTMLInputElement>('From').value).not.toBe('');
  });

  it('opens an entry to its full content, with the hashes in hex', async () => {
    setup();
    await waitFor(() => {
      expect(rows()).toHaveLength(2);
    });
    const toggle = screen.getByRole('button', { name: 'Details of entry 2' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    const details = document.getElementById(toggle.getAttribute('aria-controls') ?? '') ?? document.body;
    expect(within(details).getByText('000102ff')).toBeTruthy();
    expect(within(details).getByText('abcdef')).toBeTruthy();
    expect(within(details).getByText('ev-2')).toBeTruthy();
    expect(details.textContent).toContain('"toState": "AGENT_STATE_PROVISIONED"');
    fireEvent.click(toggle);
    expect(screen.queryByText('000102ff')).toBeNull();
  });

  it('submits the form on Enter into the URL, and Reset clears it', async () => {
    const { searches, q } = setup();
    await waitFor(() => {
      expect(rows()).toHaveLength(2);
    });
    fireEvent.change(screen.getByLabelText('Actor'), { target: { value: 'dev:olga@example.com' } });
    fireEvent.change(screen.getByLabelText('Outcome'), { target: { value: 'denied' } });
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2026-01-02T03:04' } });
    fireEvent.submit(screen.getByLabelText('Actor').closest('form') ?? document.body);
    await waitFor(() => {
      expect(searches()).toHaveLength(2);
    });
    const from = new Date(2026, 0, 2, 3, 4).toISOString().replace('.000Z', 'Z');
    expect(q(1).get('actor')).toBe('dev:olga@example.com');
    expect(q(1).get('outcome')).toBe('denied');
    expect(q(1).get('start_time')).toBe(from);
    expect(screen.getByTestId('where').textContent).toBe(
      `/audit?${new URLSearchParams({ actor: 'dev:olga@example.com', outcome: 'denied', from }).toString()}`,
    );

    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(screen.getByTestId('where').textContent).toBe('/audit');
    expect(screen.getByLabelText<HTMLInputElement>('Actor').value).toBe('');
  });

  it("shows the server's field violation for a bad time range, on the field it names", async () => {
    setup({
      path: '/audit?from=2026-01-02T00%3A00%3A00Z&to=2026-01-01T00%3A00%3A00Z',
      search: () => [
        400,
        {
          code: 3,
          message: 'end_time: must be after start_time',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.BadRequest',
              fieldViolations: [{ field: 'end_time', description: 'end_time: must be after start_time' }],
            },
          ],
        },
      ],
    });
    const alert = await screen.findByText(/Cannot search the audit log/);
    const box = alert.closest('[role="alert"]') ?? document.body;
    expect(within(box as HTMLElement).getByText('end_time')).toBeTruthy();
    const to = screen.getByLabelText('To');
    expect(to.getAttribute('aria-invalid')).toBe('true');
    expect(document.getElementById(to.getAttribute('aria-describedby') ?? '')?.textContent).toBe(
      'end_time: must be after start_time',
    );
    expect(screen.getByText('No results: the search failed (see above).')).toBeTruthy();
  });

  it('loads more with the next page token', async () => {
    const { q, searches } = setup({
      search: (c) =>
        new URL(c.url, 'http://x').searchParams.get('page_token') === 'p2'
          ? [200, { entries: [entry(1)] }]
          : [200, { entries: [entry(3), entry(2)], nextPageToken: 'p2' }],
    });
    await waitFor(() => {
      expect(rows()).toHaveLength(2);
    });
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => {
      expect(rows()).toHaveLength(3);
    });
    expect(searches()).toHaveLength(2);
    expect(q(1).get('page_token')).toBe('p2');
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });

  it('says an empty result is empty', async () => {
    setup({ path: '/audit?actor=nobody', search: () => [200, { entries: [] }] });
    expect(await screen.findByText('No audit entries match this search.')).toBeTruthy();
  });

  it('shows the chain verified, and broken as an alert after Verify now', async () => {
    let ok = true;
    const { calls } = setup({
      verify: () => [200, ok ? verified : { ok: false, entriesChecked: '57', firstBrokenSeq: '57', reason: 'hash mismatch: entry altered' }],
    });
    const status = await screen.findByText(/Chain verified/);
    expect(status.textContent).toContain('Chain verified: 1,234 entries, last hash abcdef012345…');
    ok = false;
    fireEvent.click(screen.getByRole('button', { name: 'Verify now' }));
    const broken = await screen.findByRole('alert');
    expect(broken.textContent).toContain('BROKEN at entry 57: hash mismatch: entry altered');
    expect(calls.filter((c) => c.url.startsWith('/api/v1/audit/entries:verify'))).toHaveLength(2);
  });

  it('shows the export links to admins only, for the searched time range', async () => {
    setup({ role: 'operator' });
    await waitFor(() => {
      expect(rows()).toHaveLength(2);
    });
    expect(screen.queryByRole('link', { name: /Export/ })).toBeNull();
    cleanup();

    setup({ role: 'admin', path: '/audit?from=2026-01-01T00%3A00%3A00Z&to=2026-01-02T00%3A00%3A00Z' });
    const csv = await screen.findByRole('link', { name: 'Export CSV' });
    const url = new URL(csv.getAttribute('href') ?? '', 'http://x');
    expect(url.pathname).toBe('/api/v1/audit/entries:export');
    expect(url.searchParams.get('format')).toBe('csv');
    expect(url.searchParams.get('start_time')).toBe('2026-01-01T00:00:00Z');
    expect(url.searchParams.get('end_time')).toBe('2026-01-02T00:00:00Z');
    expect(csv.getAttribute('download')).toBe('audit-2026-01-01-2026-01-02.csv');
    expect(new URL(screen.getByRole('link', { name: 'Export JSON' }).getAttribute('href') ?? '', 'http://x').searchParams.get('format')).toBe(
      'json',
    );
  });

  it('pre-applies the agent scope as a removable resource chip', async () => {
    localStorage.setItem(SCOPE_KEY, JSON.stringify({ kind: 'agent', id: ID, name: 'memory-1' }));
    resetScopeForTest();
    const { q, searches } = setup();
    await waitFor(() => {
      expect(searches()).toHaveLength(1);
    });
    expect(q(0).get('resource')).toBe(`agents/${ID}`);
    fireEvent.click(screen.getByRole('button', { name: `Remove the context filter agents/${ID}` }));
    await waitFor(() => {
      expect(searches()).toHaveLength(2);
    });
    expect(q(1).has('resource')).toBe(false);
    expect(screen.queryByRole('button', { name: /Remove the context filter/ })).toBeNull();
  });

  it('says the customer scope does not apply to audit search', async () => {
    localStorage.setItem(SCOPE_KEY, JSON.stringify({ kind: 'customer', customer: 'acme' }));
    resetScopeForTest();
    const { q, searches } = setup();
    expect((await screen.findByRole('note')).textContent).toMatch(/Customer acme.*does not apply to the audit search/);
    await waitFor(() => {
      expect(searches()).toHaveLength(1);
    });
    expect(q(0).has('resource')).toBe(false);
  });

  it('counts events that arrive after the search and refreshes on request', async () => {
    const { stream, searches } = setup();
    await waitFor(() => {
      expect(rows()).toHaveLength(2);
    });
    expect(stream.handlers.get('*')?.size).toBe(1);
    // Later than the search's start, whatever the clock's resolution.
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 1000);
    act(() => {
      stream.emit({ seq: 10, eventType: 'portal.agents.v1.AgentCreated', subject: 'agents/x' });
      stream.emit({ seq: 11, eventType: 'portal.agents.v1.AgentUpdated', subject: 'agents/x' });
    });
    expect(screen.getByText(/2 new events since this search/)).toBeTruthy();
    vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 2000);
    fireEvent.click(screen.getByRole('button', { name: 'refresh' }));
    await waitFor(() => {
      expect(searches()).toHaveLength(2);
    });
    await waitFor(() => {
      expect(screen.queryByText(/new events since this search/)).toBeNull();
    });
  });
});
