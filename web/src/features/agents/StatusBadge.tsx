import type { CSSProperties } from 'react';
import type { AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import { stateInfo, toneColor } from './states';

/** StatusBadge is an agent state as a coloured pill (the plan's status colours). */
export function StatusBadge({ state }: { state: AgentStateJson | undefined }) {
  const info = stateInfo(state);
  return (
    <span className="status-badge" data-tone={info.tone} style={{ '--badge-color': toneColor(info.tone) } as CSSProperties}>
      <span className="status-dot" aria-hidden="true" />
      {info.label}
    </span>
  );
}
