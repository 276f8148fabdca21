import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { mockFetch, renderWith } from '../../test/render';
import { ConfirmActionDialog } from './ConfirmActionDialog';

const agent: AgentJson = { id: 'a1', name: 'memory-1', displayName: 'Memory One', state: 'AGENT_STATE_RUNNING', etag: '7' };

beforeEach(() => {
  document.cookie = 'portal_csrf=tok; path=/';
});
afterEach(() => {
  cleanup();
  document.cookie = 'portal_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/';
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

describe('ConfirmActionDialog', () => {
  it('previews the transition and sends the etag and reason', async () => {
    const calls = mockFetch(
      {
        'POST /api/v1/agents/a1:stop': () => [200, { agent: { ...agent, state: 'AGENT_STATE_STOPPED', etag: '8' } }],
      },
      stub,
    );
    const onClose = vi.fn();
    renderWith(<ConfirmActionDialog agent={agent} action={{ action: 'stop', to: 'AGENT_STATE_STOPPED' }} onClose={onClose} />);

    expect(screen.getByRole('heading', { name: 'Stop agent Memory One' })).toBeTruthy();
    expect(screen.getByTestId('transition-preview').textContent).toBe('Stop agent Memory One: RUNNING → STOPPED');
    fireEvent.change(screen.getByLabelText(/Reason/), { target: { value: 'maintenance' } });
    fireEvent.click(screen.getByRole('button', { name: 'Stop' }));

    await waitFor(() => {
      expect(onClose).toHaveBeenCalled();
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.method).toBe('POST');
    expect(calls[0]?.body).toEqual({ etag: '7', reason: 'maintenance' });
    expect(calls[0]?.headers.get('X-CSRF-Token')).toBe('tok');
  });

  it('says a stale etag means someone else changed it, and re-reads', async () => {
    mockFetch(
      {
        'POST /api/v1/agents/a1:suspend': () => [409, { code: 10, message: 'etag mismatch' }],
      },
      stub,
    );
    const onClose = vi.fn();
    const { queryClient } = renderWith(
      <ConfirmActionDialog agent={agent} action={{ action: 'suspend', to: 'AGENT_STATE_SUSPENDED' }} onClose={onClose} />,
    );
    const invalidate = vi.spyOn(queryClient, 'invalidateQueries');
    fireEvent.click(screen.getByRole('button', { name: 'Suspend' }));

    expect((await screen.findByRole('alert')).textContent).toMatch(/changed by someone else, reloaded/);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ['agents'] });
    expect(onClose).not.toHaveBeenCalled();
  });

  it('shows the refusal and its field violations', async () => {
    mockFetch(
      {
        'POST /api/v1/agents/a1:revoke': () => [
          400,
          {
            code: 3,
            message: 'reason too long',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.BadRequest',
                fieldViolations: [{ field: 'reason', description: 'at most 512 characters' }],
              },
            ],
          },
        ],
      },
      stub,
    );
    renderWith(<ConfirmActionDialog agent={agent} action={{ action: 'revoke', to: 'AGENT_STATE_REVOKED' }} onClose={vi.fn()} />);
    expect(screen.getByText(/Revoking is final/)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Revoke' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('reason too long');
    expect(alert.textContent).toContain('reason: at most 512 characters');
  });
});
