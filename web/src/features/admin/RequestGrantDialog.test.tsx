import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GrantJson } from '../../gen/portal/identity/v1/identity_pb';
import { mockFetch, renderWith } from '../../test/render';
import { clearToastsForTest, Toaster } from '../../ui/toast';
import { MyGrants, RequestGrantDialog } from './RequestGrantDialog';

beforeEach(() => {
  document.cookie = 'portal_csrf=tok; path=/';
});
afterEach(() => {
  cleanup();
  clearToastsForTest();
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const OLGA = '11111111-1111-4111-8111-111111111111';
const BOB = '33333333-3333-4333-8333-333333333333';

const meAs = (baseRole: string, role = baseRole) => ({
  principal: { subject: OLGA, email: 'olga@example.com', role, baseRole, actor: 'olga@example.com' },
  grants: [],
});

const mine: GrantJson = {
  id: 'g1',
  userId: OLGA,
  userEmail: 'olga@example.com',
  role: 'ROLE_ADMIN',
  reason: 'deploy freeze exception',
  duration: '7200s',
  state: 'GRANT_STATE_DENIED',
  requestTime: '2026-01-01T10:00:00Z',
  decidedBy: 'ada@example.com',
  decisionReason: 'not during the freeze',
};
const bobs: GrantJson = { ...mine, id: 'g2', userId: BOB, userEmail: 'bob@example.com', reason: 'bob needs it' };

describe('RequestGrantDialog', () => {
  it('offers only the roles above the base role, needs a reason, and sends the request', async () => {
    const calls = mockFetch(
      {
        'GET /api/v1/me': () => [200, meAs('ROLE_OPERATOR')],
        'GET /api/v1/grants': () => [200, { grants: [] }],
        'POST /api/v1/grants': () => [200, { grant: { ...mine, id: 'g9', state: 'GRANT_STATE_PENDING' } }],
      },
      stub,
    );
    const onClose = vi.fn();
    renderWith(
      <>
        <RequestGrantDialog open onClose={onClose} />
        <Toaster />
      </>,
      { role: 'operator' },
    );
    const dialog = screen.getByRole('dialog', { name: 'Request access' });
    const role = await within(dialog).findByLabelText<HTMLSelectElement>('Role');
    expect([...role.options].map((o) => o.textContent)).toEqual(['admin']);
    const duration = within(dialog).getByLabelText<HTMLSelectElement>('For');
    expect([...duration.options].map((o) => o.textContent)).toEqual([
      '15 minutes',
      '30 minutes',
      '1 hour',
      '2 hours',
      '4 hours',
      '8 hours',
      '12 hours',
    ]);

    // No reason: said next to the field, nothing sent.
    fireEvent.click(within(dialog).getByRole('button', { name: 'Request' }));
    expect(within(dialog).getByText('Say why you need it.')).toBeTruthy();
    expect(within(dialog).getByLabelText(/Reason/).getAttribute('aria-invalid')).toBe('true');
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);

    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: ' incident 42 ' } });
    fireEvent.change(duration, { target: { value: '900s' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Request' }));
    await screen.findByText('Requested; an admin must approve it');
    expect(onClose).toHaveBeenCalled();
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({ role: 'ROLE_ADMIN', reason: 'incident 42', duration: '900s' });
    expect(post?.headers.get('X-CSRF-Token')).toBe('tok');
  });

  it('offers operator and admin to a viewer, and shows a server refusal next to the field', async () => {
    mockFetch(
      {
        'GET /api/v1/me': () => [200, meAs('ROLE_VIEWER')],
        'GET /api/v1/grants': () => [200, { grants: [] }],
        'POST /api/v1/grants': () => [
          400,
          {
            code: 3,
            message: 'validation error: reason: value length must be at least 3 characters',
            details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'reason', description: 'value length must be at least 3 characters' }] }],
          },
        ],
      },
      stub,
    );
    renderWith(<RequestGrantDialog open onClose={vi.fn()} />, { role: 'viewer' });
    const dialog = screen.getByRole('dialog');
    const role = await within(dialog).findByLabelText<HTMLSelectElement>('Role');
    expect([...role.options].map((o) => o.textContent)).toEqual(['operator', 'admin']);
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: 'x' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Request' }));
    const msg = await within(dialog).findByText('value length must be at least 3 characters');
    expect(within(dialog).getByLabelText(/Reason/).getAttribute('aria-describedby')).toBe(msg.id);
    expect(within(dialog).getByRole('alert').textContent).toBe('Not requested: check the marked field.');
  });

  it('tells an admin there is nothing higher, going by the base role rather than a grant', async () => {
    mockFetch(
      { 'GET /api/v1/me': () => [200, meAs('ROLE_ADMIN')], 'GET /api/v1/grants': () => [200, { grants: [] }] },
      stub,
    );
    const { unmount } = renderWith(<RequestGrantDialog open onClose={vi.fn()} />, { role: 'admin' });
    await screen.findByText(/You have the admin role already/);
    expect(screen.queryByLabelText('Role')).toBeNull();
    unmount();

    // An operator raised to admin by a grant may still ask (for when it ends).
    mockFetch(
      { 'GET /api/v1/me': () => [200, meAs('ROLE_OPERATOR', 'ROLE_ADMIN')], 'GET /api/v1/grants': () => [200, { grants: [] }] },
      stub,
    );
    renderWith(<RequestGrantDialog open onClose={vi.fn()} />, { role: 'admin' });
    const role = await screen.findByLabelText<HTMLSelectElement>('Role');
    expect([...role.options].map((o) => o.textContent)).toEqual(['admin']);
  });

  it('renders nothing inside while closed', () => {
    mockFetch({}, stub);
    renderWith(<RequestGrantDialog open={false} onClose={vi.fn()} />);
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(screen.queryByText('Request access')).toBeNull();
  });
});

describe('MyGrants', () => {
  it("lists the caller's own grants only, with their state and decision", async () => {
    const calls = mockFetch(
      {
        'GET /api/v1/me': () => [200, meAs('ROLE_OPERATOR', 'ROLE_ADMIN')],
        // An admin (here by a grant) gets everyone's.
        'GET /api/v1/grants': () => [200, { grants: [bobs, mine] }],
      },
      stub,
    );
    renderWith(<MyGrants />, { role: 'admin' });
    const list = await screen.findByRole('list');
    expect(within(list).getAllByRole('listitem')).toHaveLength(1);
    expect(within(list).getByText('Denied')).toBeTruthy();
    expect(within(list).getByText('for 2 h')).toBeTruthy();
    expect(within(list).getByText(/denied by ada@example.com/)).toBeTruthy();
    expect(within(list).getByText('Note: “not during the freeze”')).toBeTruthy();
    expect(screen.queryByText(/bob needs it/)).toBeNull();
    expect(new URL(calls.find((c) => c.url.startsWith('/api/v1/grants'))?.url ?? '', 'http://x').searchParams.get('page_size')).toBe('50');
  });

  it('says when there are none', async () => {
    mockFetch({ 'GET /api/v1/me': () => [200, meAs('ROLE_VIEWER')], 'GET /api/v1/grants': () => [200, { grants: [] }] }, stub);
    renderWith(<MyGrants />, { role: 'viewer' });
    await waitFor(() => {
      expect(screen.getByText('You have not asked for any.')).toBeTruthy();
    });
  });
});
