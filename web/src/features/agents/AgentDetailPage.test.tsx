import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Route, Routes } from 'react-router';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { FakeStream, mockFetch, renderWith } from '../../test/render';
import AgentDetailPage from './AgentDetailPage';

afterEach(cleanup);

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

const errored: AgentJson = {
  id: 'a1',
  name: 'memory-1',
  state: 'AGENT_STATE_ERRORED',
  etag: '9',
  config: { port: 9001 },
  labels: { team: 'finance' },
  error: {
    class: 'configuration',
    code: 'PORT_IN_USE',
    message: 'port 9001 is taken',
    probableCause: 'another process listens on 9001',
    details: { port: '9001' },
    suggestedActions: [
      { id: 'pick-another-port', title: 'Pick another port', description: 'provision again on free ports' },
      { id: 'read-logs', title: 'Read the logs', link: '/api/v1/agents/a1/logs' },
      { id: 'revoke', title: 'Revoke the agent', action: 'AGENT_ACTION_REVOKE' },
    ],
  },
};

function page(role: 'viewer' | 'operator', stream = new FakeStream()) {
  const calls = mockFetch(
    {
      'GET /api/v1/agents/a1': () => [200, { agent: errored }],
      'GET /api/v1/agents/a1/history': () => [
        200,
        {
          transitions: [
            { sequence: '1', fromState: 'AGENT_STATE_UNSPECIFIED', toState: 'AGENT_STATE_DRAFT', action: 'AGENT_ACTION_CREATE', actor: 'ada' },
            { sequence: '2', fromState: 'AGENT_STATE_DRAFT', toState: 'AGENT_STATE_ERRORED', action: 'AGENT_ACTION_FAIL' },
          ],
        },
      ],
      'GET /api/v1/agents/a1/logs': () => [200, { lines: [{ instance: 'i0', level: 'error', message: 'bind: address in use' }] }],
      'POST /api/v1/agents/a1:remediate': () => [200, { agent: { ...errored, state: 'AGENT_STATE_PROVISIONED', error: undefined } }],
    },
    stub,
  );
  const r = renderWith(
    <Routes>
      <Route path="/agents/:id" element={<AgentDetailPage />} />
    </Routes>,
    { role, stream, path: '/agents/a1' },
  );
  return { ...r, calls };
}

describe('AgentDetailPage', () => {
  it('explains the error and runs a suggested action with the etag', async () => {
    const { calls } = page('operator');
    const explanation = await screen.findByRole('region', { name: 'Error explanation' });
    expect(explanation.textContent).toContain('configuration');
    expect(explanation.textContent).toContain('PORT_IN_USE');
    expect(explanation.textContent).toContain('another process listens on 9001');
    // A suggestion that only links is not a button.
    expect(within(explanation).queryByRole('button', { name: 'Read the logs' })).toBeNull();
    expect(await screen.findByText(/bind: address in use/)).toBeTruthy();
    expect(screen.getByLabelText('Config (read-only)').textContent).toBe(JSON.stringify({ port: 9001 }, null, 2));
    expect(await screen.findByText('DRAFT → ERRORED')).toBeTruthy();

    // Revoking asks first; declined, nothing is sent.
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    fireEvent.click(within(explanation).getByRole('button', { name: 'Revoke the agent' }));
    expect(confirm).toHaveBeenCalledWith('Revoke agent memory-1: ERRORED → REVOKED? This is final.');
    expect(calls.some((c) => c.method === 'POST')).toBe(false);

    fireEvent.click(within(explanation).getByRole('button', { name: 'Pick another port' }));
    await waitFor(() => {
      expect(calls.some((c) => c.method === 'POST')).toBe(true);
    });
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.url).toBe('/api/v1/agents/a1:remediate');
    expect(post?.body).toEqual({ suggestionId: 'pick-another-port', etag: '9' });
    await waitFor(() => {
      expect(screen.queryByRole('region', { name: 'Error explanation' })).toBeNull();
    });
    expect(screen.getAllByText('Provisioned').length).toBeGreaterThan(0);
  });

  it('offers viewers no remediation and no actions', async () => {
    page('viewer');
    const explanation = await screen.findByRole('region', { name: 'Error explanation' });
    expect(within(explanation).queryByRole('button')).toBeNull();
    expect(screen.queryByRole('button', { name: /Actions for/ })).toBeNull();
  });

  it('follows agents/<id>: a state change updates the badge and re-reads the history', async () => {
    const stream = new FakeStream();
    const { calls } = page('operator', stream);
    await screen.findByRole('region', { name: 'Error explanation' });
    expect(stream.handlers.get('agents/a1')?.size).toBe(1);
    const historyReads = () => calls.filter((c) => c.url.startsWith('/api/v1/agents/a1/history')).length;
    await waitFor(() => {
      expect(historyReads()).toBe(1);
    });

    act(() => {
      stream.emit({
        seq: 5,
        eventType: 'portal.agents.v1.AgentStateChanged',
        subject: 'agents/a1',
        data: { agent: { ...errored, state: 'AGENT_STATE_STOPPED', error: undefined } },
      });
    });
    await waitFor(() => {
      expect(screen.getByText('Stopped')).toBeTruthy();
    });
    await waitFor(() => {
      expect(historyReads()).toBe(2);
    });
  });
});
