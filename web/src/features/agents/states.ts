// The agent lifecycle as the UI shows it: each state's label and status
// colour (the Portal Design System's traffic light), and the actions each
// state allows with the state they lead to (README, "Agents and their lifecycle").
import type { AgentActionName } from '../../api/agents';
import type { AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';

export type StatusTone = 'success' | 'warning' | 'error' | 'info' | 'unknown';

interface StateInfo {
  label: string;
  tone: StatusTone;
}

export const STATES: Record<AgentStateJson, StateInfo> = {
  AGENT_STATE_UNSPECIFIED: { label: 'Unknown', tone: 'unknown' },
  AGENT_STATE_DRAFT: { label: 'Draft', tone: 'info' },
  AGENT_STATE_PROVISIONED: { label: 'Provisioned', tone: 'info' },
  AGENT_STATE_DEPLOYED: { label: 'Deployed', tone: 'warning' },
  AGENT_STATE_RUNNING: { label: 'Running', tone: 'success' },
  AGENT_STATE_STOPPED: { label: 'Stopped', tone: 'unknown' },
  AGENT_STATE_SUSPENDED: { label: 'Suspended', tone: 'warning' },
  AGENT_STATE_ERRORED: { label: 'Errored', tone: 'error' },
  AGENT_STATE_REVOKED: { label: 'Revoked', tone: 'unknown' },
};

/** The states an operator can filter by, in lifecycle order. */
export const FILTER_STATES: AgentStateJson[] = [
  'AGENT_STATE_DRAFT',
  'AGENT_STATE_PROVISIONED',
  'AGENT_STATE_DEPLOYED',
  'AGENT_STATE_RUNNING',
  'AGENT_STATE_STOPPED',
  'AGENT_STATE_SUSPENDED',
  'AGENT_STATE_ERRORED',
  'AGENT_STATE_REVOKED',
];

export function stateInfo(state: AgentStateJson | undefined): StateInfo {
  return STATES[state ?? 'AGENT_STATE_UNSPECIFIED'];
}

/** The CSS custom property of a tone: var(--color-success) and so on. */
export function toneColor(tone: StatusTone): string {
  return `var(--color-${tone})`;
}

// A colour of its own for each state, for charts where states sit side by
// side (several states share a status tone, which a chart cannot tell apart).
const STATE_COLORS: Record<AgentStateJson, string> = {
  AGENT_STATE_UNSPECIFIED: 'var(--color-text-tertiary)',
  AGENT_STATE_DRAFT: 'var(--color-text-tertiary)',
  AGENT_STATE_PROVISIONED: 'var(--color-info)',
  AGENT_STATE_DEPLOYED: 'var(--color-accent-2)',
  AGENT_STATE_RUNNING: 'var(--color-success)',
  AGENT_STATE_STOPPED: 'var(--color-text-secondary)',
  AGENT_STATE_SUSPENDED: 'var(--color-warning)',
  AGENT_STATE_ERRORED: 'var(--color-error)',
  AGENT_STATE_REVOKED: 'var(--color-accent-3)',
};

/** stateColor is the state's chart colour (a CSS custom property). */
export function stateColor(state: AgentStateJson | undefined): string {
  return STATE_COLORS[state ?? 'AGENT_STATE_UNSPECIFIED'];
}

export interface AllowedAction {
  action: AgentActionName;
  to: AgentStateJson;
}

const R = 'AGENT_STATE_REVOKED';
const revoke: AllowedAction = { action: 'revoke', to: R };

const ALLOWED: Record<AgentStateJson, AllowedAction[]> = {
  AGENT_STATE_UNSPECIFIED: [],
  AGENT_STATE_DRAFT: [{ action: 'provision', to: 'AGENT_STATE_PROVISIONED' }, revoke],
  AGENT_STATE_PROVISIONED: [{ action: 'deploy', to: 'AGENT_STATE_DEPLOYED' }, revoke],
  AGENT_STATE_DEPLOYED: [{ action: 'start', to: 'AGENT_STATE_RUNNING' }, revoke],
  AGENT_STATE_RUNNING: [
    { action: 'stop', to: 'AGENT_STATE_STOPPED' },
    { action: 'suspend', to: 'AGENT_STATE_SUSPENDED' },
    { action: 'restart', to: 'AGENT_STATE_RUNNING' },
    revoke,
  ],
  AGENT_STATE_STOPPED: [
    { action: 'start', to: 'AGENT_STATE_RUNNING' },
    { action: 'deploy', to: 'AGENT_STATE_DEPLOYED' },
    revoke,
  ],
  AGENT_STATE_SUSPENDED: [
    { action: 'resume', to: 'AGENT_STATE_RUNNING' },
    { action: 'stop', to: 'AGENT_STATE_STOPPED' },
    revoke,
  ],
  AGENT_STATE_ERRORED: [
    { action: 'provision', to: 'AGENT_STATE_PROVISIONED' },
    { action: 'deploy', to: 'AGENT_STATE_DEPLOYED' },
    { action: 'restart', to: 'AGENT_STATE_RUNNING' },
    { action: 'stop', to: 'AGENT_STATE_STOPPED' },
    revoke,
  ],
  AGENT_STATE_REVOKED: [],
};

/** The actions the state allows, with where each leads. */
export function allowedActions(state: AgentStateJson | undefined): AllowedAction[] {
  return ALLOWED[state ?? 'AGENT_STATE_UNSPECIFIED'];
}

export function actionLabel(action: AgentActionName): string {
  return action.charAt(0).toUpperCase() + action.slice(1);
}

/** The short state name for transitions: "RUNNING". */
export function stateName(state: AgentStateJson | undefined): string {
  return (state ?? 'AGENT_STATE_UNSPECIFIED').replace('AGENT_STATE_', '');
}
