import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UserJson } from '../../gen/portal/identity/v1/identity_pb';
import { FakeStream, mockFetch, renderWith } from '../../test/render';
import { clearToastsForTest, Toaster } from '../../ui/toast';
import UsersPage from './UsersPage';

beforeEach(() => {
  document.cookie = 'portal_csrf=tok; path=/';
});
afterEach(() => {
  cleanup();
  clearToastsForTest();
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const olga: UserJson = {
  id: '11111111-1111-4111-8111-111111111111',
  email: 'olga@example.com',
  name: 'Olga Operator',
  issuer: 'https://idp.example.com',
  assignedRole: 'ROLE_UNSPECIFIED',
  mappedRole: 'ROLE_OPERATOR',
  role: 'ROLE_OPERATOR',
  createTime: '2026-01-01T10:00:00Z',
  lastLoginTime: '2026-01-02T10:00:00Z',
  etag: '1',
};
const ada: UserJson = {
  id: '22222222-2222-4222-8222-222222222222',
  email: 'ada@example.com',
  name: 'Ada Admin',
  issuer: 'dev',
  assignedRole: 'ROLE_ADMIN',
  mappedRole: 'ROLE_UNSPECIFIED',
  role: 'ROLE_ADMIN',
  createTime: '2026-01-01T09:00:00Z',
  lastLoginTime: null as unknown as undefined, // protojson's null for an unset timestamp
  etag: '3',
};

function row(id: string | undefined): HTMLElement {
  const r = document.querySelector<HTMLElement>(`tr[data-row-id="${id ?? ''}"]`);
  if (!r) {
    throw new Error(`no row ${id ?? ''}`);
  }
  return r;
}

const usersCalls = (calls: { url: string; method: string }[]) =>
  calls.filter((c) => c.method === 'GET' && c.url.startsWith('/api/v1/users'));

describe('UsersPage', () => {
  it('lists users with their role and where it comes from, and follows UserRoleChanged in place', async () => {
    const calls = mockFetch({ 'GET /api/v1/users': () => [200, { users: [ada, olga], nextPageToken: '' }] }, stub);
    const stream = new FakeStream();
    renderWith(<UsersPage />, { role: 'admin', stream, path: '/admin/users' });

    await screen.findByText('Olga Operator');
    expect(within(row(olga.id)).getByText('operator')).toBeTruthy();
    expect(within(row(olga.id)).getByText('role rules')).toBeTruthy();
    expect(within(row(ada.id)).getByText('assigned by an admin')).toBeTruthy();
    expect(within(row(ada.id)).getByText(/development login/)).toBeTruthy();
    expect(screen.getByRole('region', { name: 'User list' }).tabIndex).toBe(0);
    expect(new URL(calls[0]?.url ?? '', 'http://x').searchParams.get('page_size')).toBe('50');
    expect(stream.handlers.get('users')?.size).toBe(1);

    act(() => {
      stream.emit({
        seq: 4,
        eventType: 'portal.identity.v1.UserRoleChanged',
        subject: `users/${olga.id ?? ''}`,
        data: { user: { ...olga, assignedRole: 'ROLE_ADMIN', role: 'ROLE_ADMIN', etag: '2' } },
      });
    });
    await waitFor(() => {
      expect(within(row(olga.id)).getByText('assigned by an admin')).toBeTruthy();
    });
    expect(within(row(olga.id)).getByText('admin')).toBeTruthy();
    expect(usersCalls(calls)).toHaveLength(1);
  });

  it('searches on the server and re-reads when someone new logs in', async () => {
    const calls = mockFetch({ 'GET /api/v1/users': () => [200, { users: [olga] }] }, stub);
    const stream = new FakeStream();
    renderWith(<UsersPage />, { role: 'admin', stream, path: '/admin/users' });
    await screen.findByText('Olga Operator');

    fireEvent.change(screen.getByLabelText('Search users'), { target: { value: ' olga ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => {
      expect(usersCalls(calls)).toHaveLength(2);
    });
    expect(new URL(calls[1]?.url ?? '', 'http://x').searchParams.get('query')).toBe('olga');

    act(() => {
      stream.emit({
        seq: 5,
        eventType: 'portal.identity.v1.LoggedIn',
        subject: 'users/33333333-3333-4333-8333-333333333333',
        data: { principal: { subject: '33333333-3333-4333-8333-333333333333' } },
      });
    });
    await waitFor(() => {
      expect(usersCalls(calls)).toHaveLength(3);
    });
  });

  it('changes a role with the etag it was read with, and says so', async () => {
    let current: UserJson = olga;
    const calls = mockFetch(
      {
        'GET /api/v1/users': () => [200, { users: [current] }],
        [`POST /api/v1/users/${olga.id ?? ''}:setRole`]: () => {
          current = { ...olga, assignedRole: 'ROLE_ADMIN', role: 'ROLE_ADMIN', etag: '2' };
          return [200, { user: current }];
        },
      },
      stub,
    );
    renderWith(
      <>
        <UsersPage />
        <Toaster />
      </>,
      { role: 'admin', path: '/admin/users' },
    );
    await screen.findByText('Olga Operator');
    fireEvent.click(screen.getByRole('button', { name: 'Change role of olga@example.com' }));
    const dialog = screen.getByRole('dialog', { name: 'Change the role of Olga Operator' });
    // Unchanged from what she has by the rules would still assign it: the
    // button waits for a choice that differs from her assignment.
    fireEvent.click(within(dialog).getByLabelText('admin'));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Change role' }));

    await screen.findByText('Olga Operator is now admin');
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({ role: 'ROLE_ADMIN', etag: '1' });
    expect(post?.headers.get('X-CSRF-Token')).toBe('tok');
    await waitFor(() => {
      expect(within(row(olga.id)).getByText('assigned by an admin')).toBeTruthy();
    });
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('gives an assigned user back to the role rules', async () => {
    const calls = mockFetch(
      {
        'GET /api/v1/users': () => [200, { users: [ada] }],
        [`POST /api/v1/users/${ada.id ?? ''}:setRole`]: () => [
          200,
          { user: { ...ada, assignedRole: 'ROLE_UNSPECIFIED', role: 'ROLE_UNSPECIFIED', etag: '4' } },
        ],
      },
      stub,
    );
    renderWith(<UsersPage />, { role: 'admin', path: '/admin/users' });
    await screen.findByText('Ada Admin');
    fireEvent.click(screen.getByRole('button', { name: 'Change role of ada@example.com' }));
    const dialog = screen.getByRole('dialog');
    // Her assignment is the current choice: nothing to send yet.
    expect(within(dialog).getByRole<HTMLButtonElement>('button', { name: 'Change role' }).disabled).toBe(true);
    fireEvent.click(within(dialog).getByLabelText(/back to the role rules/));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Change role' }));
    await waitFor(() => {
      expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ role: 'ROLE_UNSPECIFIED', etag: '3' });
    });
  });

  it('on a concurrent change, says so, reloads, and lets the admin confirm against the new state', async () => {
    let current: UserJson = olga;
    const calls = mockFetch(
      {
        'GET /api/v1/users': () => [200, { users: [current] }],
        [`POST /api/v1/users/${olga.id ?? ''}:setRole`]: (c) =>
          (c.body as { etag: string }).etag === current.etag
            ? [200, { user: { ...current, assignedRole: 'ROLE_VIEWER', role: 'ROLE_VIEWER', etag: '9' } }]
            : [
                409,
                {
                  code: 10,
                  message: 'user olga@example.com changed since it was read (etag 1, now 2): read it again',
                  details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ETAG_MISMATCH' }],
                },
              ],
      },
      stub,
    );
    renderWith(<UsersPage />, { role: 'admin', path: '/admin/users' });
    await screen.findByText('Olga Operator');
    fireEvent.click(screen.getByRole('button', { name: 'Change role of olga@example.com' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.click(within(dialog).getByLabelText('viewer'));

    // Someone else makes her an admin meanwhile.
    current = { ...olga, assignedRole: 'ROLE_ADMIN', role: 'ROLE_ADMIN', etag: '2' };
    fireEvent.click(within(dialog).getByRole('button', { name: 'Change role' }));

    // The refusal makes the page re-read; the dialog shows the new state.
    const alert = await within(dialog).findByText(/was changed by someone else meanwhile: now admin \(assigned by an admin\)/);
    expect(usersCalls(calls)).toHaveLength(2);
    expect(within(dialog).getByRole<HTMLButtonElement>('button', { name: 'Change role' }).disabled).toBe(true);
    fireEvent.click(within(alert).getByRole('button', { name: 'Review the new state' }));
    expect(within(dialog).getByText(/^olga@example.com is/).textContent).toBe(
      'olga@example.com is admin (assigned by an admin).',
    );
    expect(within(dialog).queryByText(/changed by someone else/)).toBeNull();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Change role' }));
    await waitFor(() => {
      expect(screen.queryByRole('dialog')).toBeNull();
    });
    const posts = calls.filter((c) => c.method === 'POST').map((c) => c.body);
    expect(posts).toEqual([
      { role: 'ROLE_VIEWER', etag: '1' },
      { role: 'ROLE_VIEWER', etag: '2' },
    ]);
  });
});
