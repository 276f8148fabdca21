import * as DropdownMenu from '@radix-ui/react-dropdown-menu';
import { useRef, useState } from 'react';
import { canOperate, useRole } from '../../app/context';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { ConfirmActionDialog } from './ConfirmActionDialog';
import { actionLabel, allowedActions, stateName, type AllowedAction } from './states';

/**
 * AgentActionMenu offers the actions the agent's state allows, to operators
 * and admins only; each opens a confirmation first. Non-modal, so Radix adds
 * no scroll lock (which would inject a <style> the CSP refuses).
 */
export function AgentActionMenu({ agent }: { agent: AgentJson }) {
  const role = useRole();
  const [chosen, setChosen] = useState<AllowedAction | undefined>();
  // Set when an item opens the confirmation: the menu must not then take the
  // focus back to its trigger, behind the modal (the dialog has it).
  const picked = useRef(false);
  const actions = allowedActions(agent.state);
  if (!canOperate(role) || actions.length === 0) {
    return null;
  }
  const name = agent.name ?? agent.id ?? '';
  return (
    <>
      <DropdownMenu.Root modal={false}>
        <DropdownMenu.Trigger className="button button-icon" aria-label={`Actions for ${name}`}>
          ⋯
        </DropdownMenu.Trigger>
        <DropdownMenu.Portal>
          <DropdownMenu.Content
            className="menu"
            align="end"
            sideOffset={4}
            onCloseAutoFocus={(e) => {
              if (picked.current) {
                e.preventDefault();
                picked.current = false;
              }
            }}
          >
            {actions.map((a) => (
              <DropdownMenu.Item
                key={a.action}
                className={a.action === 'revoke' ? 'menu-item menu-item-danger' : 'menu-item'}
                onSelect={() => {
                  picked.current = true;
                  setChosen(a);
                }}
              >
                {actionLabel(a.action)}
                <span className="menu-hint">→ {stateName(a.to)}</span>
              </DropdownMenu.Item>
            ))}
          </DropdownMenu.Content>
        </DropdownMenu.Portal>
      </DropdownMenu.Root>
      <ConfirmActionDialog
        agent={agent}
        action={chosen}
        onClose={() => {
          setChosen(undefined);
        }}
      />
    </>
  );
}
