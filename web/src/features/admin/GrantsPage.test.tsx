import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GrantJson } from '../../gen/portal/identity/v1/identity_pb';
import { FakeStream, mockFetch, renderWith, type FetchCall } from '../../test/render';
import { clearToastsForTest, Toaster } from '../../ui/toast';
import GrantsPage from './GrantsPage';

beforeEach(() => {
  document.cookie = 'portal_csrf=tok; path=/';
});
afterEach(() => {
  cleanup();
  clearToastsForTest();
  vi.useRealTimers();
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const ADA = '22222222-2222-4222-8222-222222222222';
const OLGA = '11111111-1111-4111-8111-111111111111';

const me = {
  principal: { subject: ADA, email: 'ada@example.com', role: 'ROLE_ADMIN', baseRole: 'ROLE_OPERATOR', actor: 'ada@example.com' },
  grants: [],
};

const olgaAsks: GrantJson = {
  id: 'g0000001-0000-4000-8000-000000000001',
  userId: OLGA,
  userEmail: 'olga@example.com',
  role: 'ROLE_ADMIN',
  reason: 'incident 42: rotate the keys',
  duration: '3600s',
  state: 'GRANT_STATE_PENDING',
  requestTime: '2026-01-01T10:00:00Z',
  decidedBy: '',
  decideTime: null as unknown as undefined,
  decisionReason: '',
  expireTime: null as unknown as undefined,
};
const adaAsks: GrantJson = {
  ...olgaAsks,
  id: 'g0000002-0000-4000-8000-000000000002',
  userId: ADA,
  userEmail: 'ada@example.com',
  reason: 'my own request',
};

function row(g: GrantJson): HTMLElement {
  const r = document.querySelector<HTMLElement>(`tr[data-row-id="${g.id ?? ''}"]`);
  if (!r) {
    throw new Error(`no row ${g.id ?? ''}`);
  }
  return r;
}

const lists = (calls: FetchCall[]) => calls.filter((c) => c.method === 'GET' && c.url.startsWith('/api/v1/grants'));

describe('GrantsPage', () => {
  it("hides Approve on the admin's own request and says why; others' can be approved or denied", async () => {
    mockFetch(
      {
        'GET /api/v1/grants': () => [200, { grants: [olgaAsks, adaAsks] }],
        'GET /api/v1/me': () => [200, me],
      },
      stub,
    );
    renderWith(<GrantsPage />, { role: 'admin', path: '/admin/grants' });
    await screen.findByText('incident 42: rotate the keys');
    await within(row(adaAsks)).findByText(/Your own request: another admin must approve it/);
    expect(within(row(adaAsks)).queryByRole('button', { name: /Approve/ })).toBeNull();
    expect(within(row(adaAsks)).getByRole('button', { name: 'Deny the grant for ada@example.com' })).toBeTruthy();
    expect(within(row(adaAsks)).getByText('(you)')).toBeTruthy();
    expect(within(row(olgaAsks)).getByRole('button', { name: 'Approve the grant for olga@example.com' })).toBeTruthy();
    expect(within(row(olgaAsks)).getByText('Pending')).toBeTruthy();
    expect(within(row(olgaAsks)).getByText('admin').parentElement?.textContent).toBe('admin for 1 h');
    expect(within(row(olgaAsks)).getByText(/^requested/)).toBeTruthy();
  });

  it('shows a new request live, then approves it with a note and shows the time left', async () => {
    let grants: GrantJson[] = [];
    const calls = mockFetch(
      {
        'GET /api/v1/grants': () => [200, { grants }],
        'GET /api/v1/me': () => [200, me],
        [`POST /api/v1/grants/${olgaAsks.id ?? ''}:approve`]: () => {
          const now = Date.now();
          grants = [
            {
              ...olgaAsks,
              state: 'GRANT_STATE_ACTIVE',
              decidedBy: 'ada@example.com',
              decideTime: new Date(now).toISOString(),
              decisionReason: 'go ahead',
              expireTime: new Date(now + 3600_000).toISOString(),
            },
          ];
          return [200, { grant: grants[0] }];
        },
      },
      stub,
    );
    const stream = new FakeStream();
    renderWith(
      <>
        <GrantsPage />
        <Toaster />
      </>,
      { role: 'admin', stream, path: '/admin/grants' },
    );
    await screen.findByText('Nobody has asked for a grant yet.');
    expect(stream.handlers.get('grants')?.size).toBe(1);

    // Olga asks: the page re-reads and shows it.
    grants = [olgaAsks];
    act(() => {
      stream.emit({
        seq: 7,
        eventType: 'portal.identity.v1.GrantChanged',
        subject: `grants/${olgaAsks.id ?? ''}`,
        data: { grant: olgaAsks },
      });
    });
    await screen.findByText('incident 42: rotate the keys');
    expect(lists(calls)).toHaveLength(2);

    fireEvent.click(await screen.findByRole('button', { name: 'Approve the grant for olga@example.com' }));
    const dialog = screen.getByRole('dialog', { name: 'Approve the grant for olga@example.com' });
    expect(within(dialog).getByText(/asks for/).textContent).toBe('olga@example.com asks for admin for 1 h: incident 42: rotate the keys');
    fireEvent.change(within(dialog).getByLabelText(/Note/), { target: { value: ' go ahead ' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Approve' }));

    await screen.findByText('Approved: olga@example.com, admin');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ reason: 'go ahead' });
    await waitFor(() => {
      expect(within(row(olgaAsks)).getByText('Active')).toBeTruthy();
    });
    expect(within(row(olgaAsks)).getByText(/^(1 h|59 min 5\d s) left$/)).toBeTruthy();
    expect(within(row(olgaAsks)).getByText('“go ahead”')).toBeTruthy();
    expect(within(row(olgaAsks)).getByRole('button', { name: 'Revoke the grant for olga@example.com' })).toBeTruthy();
  });

  it('counts down the time left every second while an active grant is shown', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: Date.parse('2026-01-01T12:00:00Z') });
    const active: GrantJson = {
      ...olgaAsks,
      state: 'GRANT_STATE_ACTIVE',
      decidedBy: 'bob@example.com',
      expireTime: '2026-01-01T12:01:40Z',
    };
    mockFetch({ 'GET /api/v1/grants': () => [200, { grants: [active] }], 'GET /api/v1/me': () => [200, me] }, stub);
    renderWith(<GrantsPage />, { role: 'admin', path: '/admin/grants' });
    await screen.findByText('1 min 40 s left');
    act(() => {
      vi.advanceTimersByTime(3000);
    });
    expect(screen.getByText('1 min 37 s left')).toBeTruthy();
    act(() => {
      vi.advanceTimersByTime(100_000);
    });
    // Run out: expired, nothing left to revoke.
    expect(within(row(active)).getByText('Expired')).toBeTruthy();
    expect(screen.queryByText(/left$/)).toBeNull();
    expect(screen.queryByRole('button', { name: /Revoke/ })).toBeNull();
  });

  it('filters by state in the URL, and drops a grant that leaves the state', async () => {
    const calls = mockFetch(
      { 'GET /api/v1/grants': () => [200, { grants: [olgaAsks] }], 'GET /api/v1/me': () => [200, me] },
      stub,
    );
    const stream = new FakeStream();
    renderWith(<GrantsPage />, { role: 'admin', stream, path: '/admin/grants?state=pending' });
    await screen.findByText('incident 42: rotate the keys');
    expect(new URL(lists(calls)[0]?.url ?? '', 'http://x').searchParams.get('state')).toBe('GRANT_STATE_PENDING');
    expect(screen.getByLabelText<HTMLSelectElement>('State').value).toBe('pending');

    act(() => {
      stream.emit({
        seq: 8,
        eventType: 'portal.identity.v1.GrantChanged',
        subject: `grants/${olgaAsks.id ?? ''}`,
        data: { grant: { ...olgaAsks, state: 'GRANT_STATE_DENIED', decidedBy: 'bob@example.com' } },
      });
    });
    await screen.findByText('No pending grants.');
    expect(lists(calls)).toHaveLength(1);

    fireEvent.change(screen.getByLabelText('State'), { target: { value: 'denied' } });
    await waitFor(() => {
      expect(lists(calls)).toHaveLength(2);
    });
    expect(new URL(lists(calls)[1]?.url ?? '', 'http://x').searchParams.get('state')).toBe('GRANT_STATE_DENIED');
  });

  it("shows the server's refusal and re-reads when the grant was decided meanwhile", async () => {
    const calls = mockFetch(
      {
        'GET /api/v1/grants': () => [200, { grants: [olgaAsks] }],
        'GET /api/v1/me': () => [200, me],
        [`POST /api/v1/grants/${olgaAsks.id ?? ''}:deny`]: () => [
          400,
          {
            code: 9,
            message: `grant ${olgaAsks.id ?? ''} is active, not pending`,
            details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'GRANT_NOT_PENDING' }],
          },
        ],
      },
      stub,
    );
    renderWith(<GrantsPage />, { role: 'admin', path: '/admin/grants' });
    fireEvent.click(await screen.findByRole('button', { name: 'Deny the grant for olga@example.com' }));
    const dialog = screen.getByRole('dialog', { name: 'Deny the grant for olga@example.com' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Deny' }));
    expect((await within(dialog).findByRole('alert')).textContent).toContain('is active, not pending');
    await waitFor(() => {
      expect(lists(calls)).toHaveLength(2);
    });
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({});
  });
});
