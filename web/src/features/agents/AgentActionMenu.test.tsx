import { cleanup, fireEvent, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { renderWith } from '../../test/render';
import { AgentActionMenu } from './AgentActionMenu';

afterEach(cleanup);

const agent = (state: AgentJson['state']): AgentJson => ({ id: 'a1', name: 'memory-1', state, etag: '3' });

function openMenu() {
  const trigger = screen.getByRole('button', { name: 'Actions for memory-1' });
  fireEvent.keyDown(trigger, { key: 'Enter' });
  return screen.getAllByRole('menuitem').map((i) => i.textContent);
}

describe('AgentActionMenu', () => {
  it('offers a running agent only stop, suspend, restart and revoke', () => {
    renderWith(<AgentActionMenu agent={agent('AGENT_STATE_RUNNING')} />, { role: 'operator' });
    expect(openMenu()).toEqual(['Stop→ STOPPED', 'Suspend→ SUSPENDED', 'Restart→ RUNNING', 'Revoke→ REVOKED']);
  });

  it('offers a draft agent provision and revoke, to admins too', () => {
    renderWith(<AgentActionMenu agent={agent('AGENT_STATE_DRAFT')} />, { role: 'admin' });
    expect(openMenu()).toEqual(['Provision→ PROVISIONED', 'Revoke→ REVOKED']);
  });

  it('offers an errored agent its recoveries', () => {
    renderWith(<AgentActionMenu agent={agent('AGENT_STATE_ERRORED')} />);
    expect(openMenu()).toEqual([
      'Provision→ PROVISIONED',
      'Deploy→ DEPLOYED',
      'Restart→ RUNNING',
      'Stop→ STOPPED',
      'Revoke→ REVOKED',
    ]);
  });

  it('is hidden from viewers', () => {
    const { container } = renderWith(<AgentActionMenu agent={agent('AGENT_STATE_RUNNING')} />, { role: 'viewer' });
    expect(screen.queryByRole('button')).toBeNull();
    expect(container.textContent).toBe('');
  });

  it('is hidden for a revoked agent, which allows nothing', () => {
    renderWith(<AgentActionMenu agent={agent('AGENT_STATE_REVOKED')} />);
    expect(screen.queryByRole('button')).toBeNull();
  });

  it('opens the confirmation for the chosen action', () => {
    renderWith(<AgentActionMenu agent={agent('AGENT_STATE_SUSPENDED')} />);
    openMenu();
    fireEvent.click(screen.getByRole('menuitem', { name: /Resume/ }));
    expect(screen.getByTestId('transition-preview').textContent).toBe('Resume agent memory-1: SUSPENDED → RUNNING');
  });
});
