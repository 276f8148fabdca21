import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mockFetch, renderWith } from '../../test/render';
import { clearToastsForTest } from '../../ui/toast';
import { CreateAgentDialog, parseLabels } from './CreateAgentDialog';

afterEach(() => {
  cleanup();
  clearToastsForTest();
});

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

describe('parseLabels', () => {
  it.each([
    ['', { labels: {} }],
    ['team=ml', { labels: { team: 'ml' } }],
    [' team = ml ,env=prod\nzone=', { labels: { team: 'ml', env: 'prod', zone: '' } }],
    ['team', { error: '"team" is not key=value' }],
    ['=x', { error: '"=x" is not key=value' }],
    ['-bad=x', { error: '"-bad" is not a label key: letters, digits, . _ - inside, at most 63' }],
    ['k=a b', { error: '"a b" is not a label value: letters, digits, . _ - inside, at most 63' }],
    ['k=1,k=2', { error: 'label "k" is given twice' }],
  ])('reads %j', (text, want) => {
    expect(parseLabels(text)).toEqual(want);
  });
});

describe('CreateAgentDialog', () => {
  function fill(label: RegExp | string, value: string) {
    fireEvent.change(screen.getByLabelText(label), { target: { value } });
  }

  it('sends the agent with the customer as a label', async () => {
    const calls = mockFetch(
      { 'POST /api/v1/agents': () => [200, { agent: { id: 'n1', name: 'invoice-reader', state: 'AGENT_STATE_DRAFT' } }] },
      stub,
    );
    const onClose = vi.fn();
    renderWith(<CreateAgentDialog open onClose={onClose} />);
    fill('Name', 'invoice-reader');
    fill('Customer', 'acme');
    fill('Labels', 'team=finance');
    fill('Version', '1.2.0');
    fireEvent.click(screen.getByRole('button', { name: 'Create agent' }));
    await waitFor(() => {
      expect(onClose).toHaveBeenCalled();
    });
    expect(calls[0]?.body).toEqual({
      name: 'invoice-reader',
      kind: 'AGENT_KIND_DATA',
      tier: 'AGENT_TIER_STANDARD',
      version: '1.2.0',
      labels: { team: 'finance', customer: 'acme' },
      runtime: { driver: 'process', replicas: 1 },
    });
  });

  it("shows the server's field violation next to the field, and a label mistake before sending", async () => {
    const calls = mockFetch(
      {
        'POST /api/v1/agents': () => [
          400,
          {
            code: 3,
            message: 'invalid agent',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.BadRequest',
                fieldViolations: [{ field: 'agent.name', description: 'must match ^[a-z]([a-z0-9-]*[a-z0-9])?$' }],
              },
            ],
          },
        ],
      },
      stub,
    );
    renderWith(<CreateAgentDialog open onClose={vi.fn()} />);
    fill('Labels', 'oops');
    fireEvent.click(screen.getByRole('button', { name: 'Create agent' }));
    expect(screen.getByRole('alert').textContent).toBe('Labels: "oops" is not key=value');
    expect(calls).toHaveLength(0);

    fill('Labels', '');
    fill('Name', 'Bad Name');
    fireEvent.click(screen.getByRole('button', { name: 'Create agent' }));
    const err = await screen.findByText('must match ^[a-z]([a-z0-9-]*[a-z0-9])?$', { selector: '.field-error' });
    expect(screen.getByLabelText('Name').getAttribute('aria-describedby')).toContain(err.id);
  });
});
