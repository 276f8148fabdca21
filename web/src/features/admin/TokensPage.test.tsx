import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenJson } from '../../gen/portal/identity/v1/identity_pb';
import { FakeStream, mockFetch, renderWith, type FetchCall } from '../../test/render';
import { clearToastsForTest, Toaster } from '../../ui/toast';
import TokensPage from './TokensPage';

beforeEach(() => {
  document.cookie = 'portal_csrf=tok; path=/';
});
afterEach(() => {
  cleanup();
  // jsdom has no clipboard: take away the one a test gave it.
  Reflect.deleteProperty(navigator, 'clipboard');
  clearToastsForTest();
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

const ci: TokenJson = {
  id: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  name: 'ci-deploy',
  role: 'ROLE_OPERATOR',
  prefix: 'ppt_Abcdefgh',
  creator: 'ada@example.com',
  createTime: iso(Date.now() - DAY),
  expireTime: iso(Date.now() + 29 * DAY),
  revokeTime: null as unknown as undefined,
  lastUseTime: iso(Date.now() - 3600_000),
};
const old: TokenJson = {
  id: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
  name: 'old-script',
  role: 'ROLE_VIEWER',
  prefix: 'ppt_Zyxwvuts',
  creator: 'cli',
  createTime: iso(Date.now() - 40 * DAY),
  expireTime: iso(Date.now() - 10 * DAY),
};
const gone: TokenJson = {
  id: 'cccccccc-cccc-4ccc-8ccc-cccccccccccc',
  name: 'leaked',
  role: 'ROLE_ADMIN',
  prefix: 'ppt_Qwertyui',
  creator: 'ada@example.com',
  createTime: iso(Date.now() - 5 * DAY),
  revokeTime: iso(Date.now() - DAY),
};

function row(t: TokenJson): HTMLElement {
  const r = document.querySelector<HTMLElement>(`tr[data-row-id="${t.id ?? ''}"]`);
  if (!r) {
    throw new Error(`no row ${t.name ?? ''}`);
  }
  return r;
}

const lists = (calls: FetchCall[]) => calls.filter((c) => c.method === 'GET' && c.url.startsWith('/api/v1/tokens'));

function setClipboard(clipboard: { writeText: (s: string) => Promise<void> }) {
  Object.defineProperty(navigator, 'clipboard', { value: clipboard, configurable: true });
}

const SECRET = 'ppt_NewSecretValue1234567890abcdefghijkl';

describe('TokensPage', () => {
  it('lists every token with its state, offering Revoke on the active ones only', async () => {
    const calls = mockFetch({ 'GET /api/v1/tokens': () => [200, { tokens: [ci, old, gone], nextPageToken: '' }] }, stub);
    renderWith(<TokensPage />, { role: 'admin', path: '/admin/tokens' });
    await screen.findByText('ci-deploy');
    expect(new URL(calls[0]?.url ?? '', 'http://x').searchParams.get('show_inactive')).toBe('true');

    expect(within(row(ci)).getByText('Active')).toBeTruthy();
    expect(within(row(ci)).getByText('operator')).toBeTruthy();
    expect(within(row(ci)).getByText('ada@example.com')).toBeTruthy();
    expect(within(row(ci)).getByText('ppt_Abcdefgh…')).toBeTruthy();
    expect(within(row(old)).getByText('Expired')).toBeTruthy();
    expect(within(row(old)).getByText('never')).toBeTruthy(); // never used
    expect(within(row(gone)).getByText('Revoked')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Revoke token ci-deploy' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Revoke token old-script' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Revoke token leaked' })).toBeNull();

    // Only the active ones: the server's default.
    fireEvent.click(screen.getByLabelText('Show revoked and expired tokens'));
    await waitFor(() => {
      expect(lists(calls)).toHaveLength(2);
    });
    expect(new URL(calls[1]?.url ?? '', 'http://x').searchParams.has('show_inactive')).toBe(false);
  });

  it("shows the server's field violation next to the field", async () => {
    mockFetch(
      {
        'GET /api/v1/tokens': () => [200, { tokens: [] }],
        'POST /api/v1/tokens': () => [
          400,
          {
            code: 3,
            message: 'validation error: name: does not match regex pattern `^[A-Za-z0-9][A-Za-z0-9._-]*$`',
            details: [
              { '@type': 'type.googleapis.com/buf.validate.Violations', violations: [] },
              {
                '@type': 'type.googleapis.com/google.rpc.BadRequest',
                fieldViolations: [{ field: 'name', description: 'does not match regex pattern `^[A-Za-z0-9][A-Za-z0-9._-]*$`' }],
              },
            ],
          },
        ],
      },
      stub,
    );
    renderWith(<TokensPage />, { role: 'admin', path: '/admin/tokens' });
    await screen.findByText('No API tokens yet.');
    fireEvent.click(screen.getByRole('button', { name: 'Create token' }));
    const dialog = screen.getByRole('dialog', { name: 'Create an API token' });
    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'bad name!' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create token' }));

    const msg = await within(dialog).findByText(/does not match regex pattern/);
    const name = within(dialog).getByLabelText('Name');
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(name.getAttribute('aria-describedby')).toBe(msg.id);
    expect(within(dialog).getByRole('alert').textContent).toBe('Not created: check the name.');
  });

  it('says a taken name next to the name field', async () => {
    mockFetch(
      {
        'GET /api/v1/tokens': () => [200, { tokens: [ci] }],
        'POST /api/v1/tokens': () => [
          409,
          {
            code: 6,
            message: 'an active API token named "ci-deploy" exists: revoke it or choose another name',
            details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'TOKEN_NAME_TAKEN' }],
          },
        ],
      },
      stub,
    );
    renderWith(<TokensPage />, { role: 'admin', path: '/admin/tokens' });
    await screen.findByText('ci-deploy');
    fireEvent.click(screen.getByRole('button', { name: 'Create token' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'ci-deploy' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create token' }));
    await within(dialog).findByText(/an active API token named "ci-deploy" exists/);
    expect(within(dialog).getByLabelText('Name').getAttribute('aria-invalid')).toBe('true');
  });

  it('creates a token and shows its secret once, with a copy button, keeping it nowhere else', async () => {
    const created: TokenJson = { ...ci, id: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd', name: 'nightly', role: 'ROLE_ADMIN', expireTime: undefined };
    const calls = mockFetch(
      {
        'GET /api/v1/tokens': () => [200, { tokens: [ci] }],
        'POST /api/v1/tokens': () => [200, { token: created, secret: SECRET }],
      },
      stub,
    );
    const writeText = vi.fn(() => Promise.resolve());
    setClipboard({ writeText });
    const { queryClient } = renderWith(
      <>
        <TokensPage />
        <Toaster />
      </>,
      { role: 'admin', path: '/admin/tokens' },
    );
    await screen.findByText('ci-deploy');
    fireEvent.click(screen.getByRole('button', { name: 'Create token' }));
    let dialog = screen.getByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: ' nightly ' } });
    fireEvent.change(within(dialog).getByLabelText('Role'), { target: { value: 'ROLE_ADMIN' } });
    fireEvent.change(within(dialog).getByLabelText('Expires after'), { target: { value: '' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create token' }));

    await within(dialog).findByRole('heading', { name: 'Token nightly created' });
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'nightly', role: 'ROLE_ADMIN' });
    expect(within(dialog).getByText(/cannot be shown again/)).toBeTruthy();
    expect(within(dialog).getByLabelText<HTMLInputElement>('Secret').value).toBe(SECRET);
    expect(within(dialog).getByText('never (until revoked)')).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Copy' }));
    await within(dialog).findByText('Copied to the clipboard.');
    expect(writeText).toHaveBeenCalledWith(SECRET);

    // Not in the query cache, the mutation cache or storage.
    const cached = JSON.stringify([
      queryClient.getQueryCache().getAll().map((q) => q.state.data),
      queryClient.getMutationCache().getAll().map((m) => m.state.data),
      Object.keys(localStorage).map((k) => localStorage.getItem(k)),
      Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)),
    ]);
    expect(cached).not.toContain(SECRET);

    fireEvent.click(within(dialog).getByRole('button', { name: 'Done' }));
    expect(screen.queryByText(SECRET)).toBeNull();
    // Opened again, it is a new form: the secret is gone for good.
    fireEvent.click(screen.getByRole('button', { name: 'Create token' }));
    dialog = screen.getByRole('dialog');
    expect(within(dialog).queryByLabelText('Secret')).toBeNull();
    expect(document.body.innerHTML).not.toContain(SECRET);
  });

  it.each([
    ['refuses', true],
    ['is missing (no secure context)', false],
  ])('selects the secret for Ctrl+C when the clipboard %s', async (_what, present) => {
    mockFetch(
      {
        'GET /api/v1/tokens': () => [200, { tokens: [] }],
        'POST /api/v1/tokens': () => [200, { token: { ...ci, name: 'x1' }, secret: SECRET }],
      },
      stub,
    );
    if (present) {
      setClipboard({ writeText: () => Promise.reject(new Error('denied')) });
    }
    renderWith(<TokensPage />, { role: 'admin', path: '/admin/tokens' });
    await screen.findByText('No API tokens yet.');
    fireEvent.click(screen.getByRole('button', { name: 'Create token' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.change(within(dialog).getByLabelText('Name'), { target: { value: 'x1' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Create token' }));
    const input = await within(dialog).findByLabelText<HTMLInputElement>('Secret');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Copy' }));
    await within(dialog).findByText(/press Ctrl\+C/);
    expect(document.activeElement).toBe(input);
    expect([input.selectionStart, input.selectionEnd]).toEqual([0, SECRET.length]);
  });

  it('revokes after a confirmation naming the token, and shows it revoked', async () => {
    const calls = mockFetch(
      {
        'GET /api/v1/tokens': () => [200, { tokens: [ci] }],
        [`POST /api/v1/tokens/${ci.id ?? ''}:revoke`]: () => [200, { token: { ...ci, revokeTime: new Date().toISOString() } }],
      },
      stub,
    );
    renderWith(
      <>
        <TokensPage />
        <Toaster />
      </>,
      { role: 'admin', path: '/admin/tokens' },
    );
    await screen.findByText('ci-deploy');
    fireEvent.click(screen.getByRole('button', { name: 'Revoke token ci-deploy' }));
    const dialog = screen.getByRole('dialog', { name: 'Revoke token ci-deploy' });
    expect(within(dialog).getByText(/refused from now on/)).toBeTruthy();
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Revoke' }));
    await screen.findByText('Token ci-deploy revoked');
    expect(within(row(ci)).getByText('Revoked')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Revoke token ci-deploy' })).toBeNull();
    expect(calls.find((c) => c.method === 'POST')?.headers.get('X-CSRF-Token')).toBe('tok');
  });

  it('follows the stream: a created token re-reads, a revoked or used one changes in place', async () => {
    const calls = mockFetch({ 'GET /api/v1/tokens': () => [200, { tokens: [ci, old] }] }, stub);
    const stream = new FakeStream();
    renderWith(<TokensPage />, { role: 'admin', stream, path: '/admin/tokens' });
    await screen.findByText('ci-deploy');
    expect(stream.handlers.get('tokens')?.size).toBe(1);

    act(() => {
      stream.emit({
        seq: 1,
        eventType: 'portal.identity.v1.TokenRevoked',
        subject: `tokens/${ci.id ?? ''}`,
        data: { token: { ...ci, revokeTime: new Date().toISOString() } },
      });
    });
    await waitFor(() => {
      expect(within(row(ci)).getByText('Revoked')).toBeTruthy();
    });
    expect(lists(calls)).toHaveLength(1);

    expect(within(row(old)).getByText('never')).toBeTruthy();
    act(() => {
      stream.emit({
        seq: 2,
        eventType: 'portal.identity.v1.TokenUsed',
        subject: `tokens/${old.id ?? ''}`,
        data: { token: { ...old, lastUseTime: new Date().toISOString() } },
      });
    });
    await waitFor(() => {
      expect(within(row(old)).queryByText('never')).toBeNull();
    });
    expect(lists(calls)).toHaveLength(1);

    act(() => {
      stream.emit({ seq: 3, eventType: 'portal.identity.v1.TokenCreated', subject: 'tokens/new', data: { token: { id: 'new' } } });
    });
    await waitFor(() => {
      expect(lists(calls)).toHaveLength(2);
    });
  });
});
