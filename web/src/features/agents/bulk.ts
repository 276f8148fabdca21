// Bulk actions in the UI: what an action would do to the selected agents
// (the preview the confirmation shows), and folding the progress events of a
// running bulk operation into one current picture.
import type { AgentActionName } from '../../api/agents';
import type {
  AgentActionJson,
  AgentJson,
  AgentStateJson,
  BulkOperationJson,
  BulkResultJson,
} from '../../gen/portal/agents/v1/agents_pb';
import type { StepStatus } from '../../ui/ProgressTracker';
import { allowedActions, stateName } from './states';

export const BULK_ACTIONS: AgentActionName[] = ['provision', 'deploy', 'start', 'stop', 'suspend', 'resume', 'restart', 'revoke'];

/** The API's enum value of an action. */
export function actionEnum(a: AgentActionName): AgentActionJson {
  return `AGENT_ACTION_${a.toUpperCase()}` as AgentActionJson;
}

export interface BulkPreview {
  /** The agents the action applies to, with the state each goes to. */
  change: { agent: AgentJson; to: AgentStateJson }[];
  /** The agents it does not apply to, and why. */
  skip: { agent: AgentJson; reason: string }[];
}

/** previewBulk says, before anything is sent, what the action would do to each agent. */
export function previewBulk(agents: readonly AgentJson[], action: AgentActionName): BulkPreview {
  const out: BulkPreview = { change: [], skip: [] };
  for (const agent of agents) {
    const allowed = allowedActions(agent.state).find((a) => a.action === action);
    if (allowed) {
      out.change.push({ agent, to: allowed.to });
    } else {
      out.skip.push({ agent, reason: `cannot ${action} from ${stateName(agent.state)}` });
    }
  }
  return out;
}

/** applicableCount is how many of the agents the action applies to. */
export function applicableCount(agents: readonly AgentJson[], action: AgentActionName): number {
  return agents.filter((a) => allowedActions(a.state).some((x) => x.action === action)).length;
}

/** transitionsSummary groups a preview's changes: "RUNNING → STOPPED × 3". */
export function transitionsSummary(p: BulkPreview): { from: string; to: string; count: number }[] {
  const m = new Map<string, { from: string; to: string; count: number }>();
  for (const { agent, to } of p.change) {
    const from = stateName(agent.state);
    const key = `${from}>${stateName(to)}`;
    const e = m.get(key) ?? { from, to: stateName(to), count: 0 };
    e.count++;
    m.set(key, e);
  }
  return [...m.values()];
}

/** A bulk operation as the dialog tracks it: the operation and its results by agent. */
export interface BulkView {
  op: BulkOperationJson;
  results: Map<string, BulkResultJson>;
}

const FINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'skipped', 'rolled_back', 'rollback_failed']);

function doneCount(op: BulkOperationJson): number {
  return (op.succeeded ?? 0) + (op.failed ?? 0) + (op.skipped ?? 0);
}

export function isFinished(op: BulkOperationJson): boolean {
  return op.status !== undefined && op.status !== 'BULK_STATUS_RUNNING' && op.status !== 'BULK_STATUS_UNSPECIFIED';
}

/**
 * mergeBulk folds a newer report (an event, or a GET) into the view. Reports
 * can arrive out of order (the GET that covers the start may answer after
 * later events), so counts never go back and a result only moves forward.
 */
export function mergeBulk(view: BulkView | undefined, op: BulkOperationJson, results: readonly BulkResultJson[] = []): BulkView {
  let next: BulkOperationJson = op;
  if (view) {
    const cur = view.op;
    const newer = isFinished(op) || (!isFinished(cur) && doneCount(op) >= doneCount(cur));
    next = newer ? { ...cur, ...op } : cur;
  }
  const map = new Map(view?.results);
  for (const r of results) {
    if (!r.agentId) {
      continue;
    }
    const old = map.get(r.agentId);
    // Rollback outcomes come after success; never go back to pending/running.
    if (!old || !FINAL.has(old.outcome ?? '') || FINAL.has(r.outcome ?? '')) {
      map.set(r.agentId, { ...old, ...r });
    }
  }
  return { op: next, results: map };
}

/** stepStatus maps a result's outcome to the progress tracker's step status. */
export function stepStatus(outcome: string | undefined): StepStatus {
  switch (outcome) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
    case 'rollback_failed':
      return 'failed';
    case 'skipped':
    case 'rolled_back':
      return 'skipped';
    case 'running':
      return 'running';
    default:
      return 'pending';
  }
}

/** summaryText says how a finished bulk operation ended, in one sentence. */
export function summaryText(op: BulkOperationJson): string {
  const s = op.succeeded ?? 0;
  const f = op.failed ?? 0;
  const k = op.skipped ?? 0;
  const counts = `${String(s)} succeeded, ${String(f)} failed, ${String(k)} skipped`;
  switch (op.status) {
    case 'BULK_STATUS_SUCCEEDED':
      return `Done: ${counts}.`;
    case 'BULK_STATUS_PARTIALLY_FAILED':
      return `Partly failed: ${counts}. The agents that succeeded keep their new state.`;
    case 'BULK_STATUS_ROLLED_BACK':
      return `Rolled back: ${counts}. Too many failed, so the ones that succeeded were returned to their previous state.`;
    default:
      return counts;
  }
}
