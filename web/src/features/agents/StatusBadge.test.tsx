import { cleanup, render } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import { StatusBadge } from './StatusBadge';

afterEach(cleanup);

const cases: [AgentStateJson, string, string][] = [
  ['AGENT_STATE_DRAFT', 'Draft', 'info'],
  ['AGENT_STATE_PROVISIONED', 'Provisioned', 'info'],
  ['AGENT_STATE_DEPLOYED', 'Deployed', 'warning'],
  ['AGENT_STATE_RUNNING', 'Running', 'success'],
  ['AGENT_STATE_STOPPED', 'Stopped', 'unknown'],
  ['AGENT_STATE_SUSPENDED', 'Suspended', 'warning'],
  ['AGENT_STATE_ERRORED', 'Errored', 'error'],
  ['AGENT_STATE_REVOKED', 'Revoked', 'unknown'],
  ['AGENT_STATE_UNSPECIFIED', 'Unknown', 'unknown'],
];

describe('StatusBadge', () => {
  it.each(cases)('%s is "%s" in --color-%s', (state, label, tone) => {
    const { container } = render(<StatusBadge state={state} />);
    const badge = container.querySelector<HTMLElement>('.status-badge');
    expect(badge?.textContent).toBe(label);
    expect(badge?.dataset.tone).toBe(tone);
    expect(badge?.style.getPropertyValue('--badge-color')).toBe(`var(--color-${tone})`);
  });

  it('treats a missing state as unknown', () => {
    const { container } = render(<StatusBadge state={undefined} />);
    expect(container.textContent).toBe('Unknown');
  });
});
