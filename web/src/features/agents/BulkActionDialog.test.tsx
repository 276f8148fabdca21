import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentJson, BulkOperationJson } from '../../gen/portal/agents/v1/agents_pb';
import { FakeStream, mockFetch, renderWith } from '../../test/render';
import { clearToastsForTest } from '../../ui/toast';
import { BulkActionDialog } from './BulkActionDialog';

afterEach(() => {
  cleanup();
  clearToastsForTest();
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const agents: AgentJson[] = [
  { id: 'a1', name: 'alpha', state: 'AGENT_STATE_RUNNING' },
  { id: 'a2', name: 'beta', state: 'AGENT_STATE_RUNNING' },
  { id: 'a3', name: 'gamma', state: 'AGENT_STATE_DRAFT' },
];

const op = (o: Partial<BulkOperationJson>): BulkOperationJson => ({
  id: 'b1',
  action: 'AGENT_ACTION_STOP',
  status: 'BULK_STATUS_RUNNING',
  total: 3,
  ...o,
});

function progress(stream: FakeStream, seq: number, o: Partial<BulkOperationJson>, result?: { agentId: string; outcome: string; reason?: string }) {
  act(() => {
    stream.emit({
      seq,
      eventType: 'portal.agents.v1.BulkOperationProgress',
      subject: 'bulkOperations/b1',
      data: { bulkOperation: op(o), result },
    });
  });
}

describe('BulkActionDialog', () => {
  it('previews the impact, sends one request, and follows the progress events to the summary', async () => {
    const calls = mockFetch(
      {
        'POST /api/v1/agents:bulk': () => [200, { bulkOperation: op({}) }],
        'GET /api/v1/bulkOperations/b1': () => [200, { bulkOperation: op({ succeeded: 0 }) }],
      },
      stub,
    );
    const stream = new FakeStream();
    const finished = vi.fn();
    renderWith(<BulkActionDialog agents={agents} action="stop" onClose={vi.fn()} onFinished={finished} />, { stream });

    const preview = screen.getByTestId('bulk-preview');
    expect(preview.textContent).toContain('2 agents will change');
    expect(preview.textContent).toContain('RUNNING → STOPPED × 2');
    expect(preview.textContent).toContain('1 agent will be skipped');
    expect(preview.textContent).toContain('gamma: cannot stop from DRAFT');

    fireEvent.change(screen.getByLabelText(/Reason/), { target: { value: 'maintenance' } });
    fireEvent.click(screen.getByLabelText(/Roll back/));
    fireEvent.click(screen.getByRole('button', { name: 'Stop 2 agents' }));

    const bar = await screen.findByRole('progressbar');
    expect(calls[0]?.body).toEqual({
      action: 'AGENT_ACTION_STOP',
      agentIds: ['a1', 'a2', 'a3'],
      parallelism: 5,
      rollbackThreshold: 0.5,
      reason: 'maintenance',
    });
    expect(bar.getAttribute('aria-valuetext')).toBe('0 of 3 (0%)');

    progress(stream, 1, { succeeded: 1 }, { agentId: 'a1', outcome: 'succeeded' });
    await waitFor(() => {
      expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('1');
    });
    progress(stream, 2, { succeeded: 1, skipped: 1 }, { agentId: 'a3', outcome: 'skipped', reason: 'cannot stop from DRAFT' });
    // Another bulk operation's events are not ours.
    act(() => {
      stream.emit({
        seq: 3,
        eventType: 'portal.agents.v1.BulkOperationProgress',
        subject: 'bulkOperations/other',
        data: { bulkOperation: { ...op({ succeeded: 3 }), id: 'other' } },
      });
    });
    await waitFor(() => {
      expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('2');
    });
    const steps = within(screen.getByRole('list', { name: 'Steps' })).getAllByRole('listitem');
    expect(steps.map((s) => s.dataset.status)).toEqual(['succeeded', 'pending', 'skipped']);

    progress(stream, 4, { succeeded: 1, skipped: 1, failed: 1 }, { agentId: 'a2', outcome: 'failed', reason: 'driver refused' });
    progress(stream, 5, { status: 'BULK_STATUS_PARTIALLY_FAILED', succeeded: 1, skipped: 1, failed: 1 });
    const summary = await screen.findByTestId('bulk-summary');
    expect(summary.textContent).toMatch(/^Partly failed: 1 succeeded, 1 failed, 1 skipped/);
    expect(finished).toHaveBeenCalledOnce();
    expect(screen.getByText('driver refused')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Done' })).toBeTruthy();
    // Done following: the subscription is gone.
    expect(stream.handlers.get('bulkOperations')?.size ?? 0).toBe(0);
  });

  it('keeps events that arrive before the answer and applies them once the id is known', async () => {
    const stream = new FakeStream();
    mockFetch(
      {
        'POST /api/v1/agents:bulk': () => {
          // The operation finished before its answer came back.
          progress(stream, 1, { status: 'BULK_STATUS_SUCCEEDED', succeeded: 2, skipped: 1 });
          return [200, { bulkOperation: op({}) }];
        },
        'GET /api/v1/bulkOperations/b1': () => [200, { bulkOperation: op({ succeeded: 1 }) }],
      },
      stub,
    );
    renderWith(<BulkActionDialog agents={agents} action="stop" onClose={vi.fn()} />, { stream });
    fireEvent.click(screen.getByRole('button', { name: 'Stop 2 agents' }));
    const summary = await screen.findByTestId('bulk-summary');
    expect(summary.textContent).toBe('Done: 2 succeeded, 0 failed, 1 skipped.');
  });

  it('shows the refusal and stays on the confirmation when the request fails', async () => {
    mockFetch(
      {
        'POST /api/v1/agents:bulk': () => [
          400,
          { code: 3, message: 'invalid request', details: [] },
        ],
      },
      stub,
    );
    const stream = new FakeStream();
    renderWith(<BulkActionDialog agents={agents} action="stop" onClose={vi.fn()} />, { stream });
    fireEvent.click(screen.getByRole('button', { name: 'Stop 2 agents' }));
    await screen.findByText(/invalid request/);
    expect(screen.queryByRole('progressbar')).toBeNull();
    expect(stream.handlers.get('bulkOperations')?.size ?? 0).toBe(0);
  });

  it('cannot be confirmed when the action applies to none of the agents', () => {
    renderWith(<BulkActionDialog agents={agents.slice(2)} action="stop" onClose={vi.fn()} />);
    expect(screen.getByText(/None of the selected agents allows stop/)).toBeTruthy();
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Stop 0 agents' }).disabled).toBe(true);
  });
});
