// The dashboard's "Recent activity": the stream's agent events as timeline
// entries, narrowed to the scope, newest first. Pure, so it is tested alone.
import { eventAgent } from '../../api/agents';
import type { StreamEvent } from '../../api/ws';
import { inScope, type Scope } from '../../app/scope';
import type { AgentActionJson, BulkStatusJson } from '../../gen/portal/agents/v1/agents_pb';
import type {
  AgentCreatedJson,
  AgentDeletedJson,
  AgentStateChangedJson,
  AgentUpdatedJson,
  BulkOperationProgressJson,
} from '../../gen/portal/agents/v1/events_pb';
import { orElse } from '../../ui/format';
import type { TimelineTone } from '../../ui/Timeline';
import { stateInfo, stateName, type StatusTone } from '../agents/states';
import { BULK_PROGRESS, CREATED, DELETED, STATE_CHANGED, UPDATED } from './series';

export interface ActivityEntry {
  id: string;
  seq: number;
  time: string;
  /** The agent it is about (no link for a deleted one), if any. */
  agentId?: string | undefined;
  agentName?: string | undefined;
  /** What happened, after the agent's name: "RUNNING → ERRORED". */
  text: string;
  description?: string | undefined;
  tone: TimelineTone;
  /** The tone in words, for screen readers, where the text does not say it. */
  status?: string | undefined;
  details?: string | undefined;
  durationMs?: number | undefined;
}

export const ACTIVITY_LIMIT = 20;
/** Reasons up to this long are shown inline; longer ones behind Details. */
const SHORT_REASON = 80;

function toneOf(t: StatusTone): TimelineTone {
  return t === 'unknown' ? 'neutral' : t;
}

function actionName(a: AgentActionJson | undefined): string | undefined {
  return a && a !== 'AGENT_ACTION_UNSPECIFIED' ? a.replace('AGENT_ACTION_', '').toLowerCase() : undefined;
}

function by(actor: string | undefined): string | undefined {
  return actor ? `by ${actor}` : undefined;
}

function join(...parts: (string | undefined)[]): string | undefined {
  const s = parts.filter((p): p is string => Boolean(p)).join(' · ');
  return s === '' ? undefined : s;
}

const BULK: Record<BulkStatusJson, { tone: TimelineTone; status: string }> = {
  BULK_STATUS_UNSPECIFIED: { tone: 'neutral', status: 'unknown' },
  BULK_STATUS_RUNNING: { tone: 'info', status: 'running' },
  BULK_STATUS_SUCCEEDED: { tone: 'success', status: 'succeeded' },
  BULK_STATUS_PARTIALLY_FAILED: { tone: 'warning', status: 'partially failed' },
  BULK_STATUS_ROLLED_BACK: { tone: 'error', status: 'rolled back' },
};

function entryOf(e: StreamEvent, scope: Scope): ActivityEntry | undefined {
  const base = { id: e.id || `seq-${e.seq}`, seq: e.seq, time: e.time };
  if (e.eventType === BULK_PROGRESS) {
    const d = e.data as BulkOperationProgressJson | undefined;
    const b = d?.bulkOperation;
    // Only the final summary (no per-agent result): each agent's own change
    // arrives as its AgentStateChanged. It names no agents, so only the
    // unscoped view can tell it belongs.
    if (!b || d.result?.agentId || scope.kind !== 'all') {
      return undefined;
    }
    const { tone, status } = BULK[b.status ?? 'BULK_STATUS_UNSPECIFIED'];
    const start = b.createTime ? Date.parse(b.createTime) : NaN;
    const done = b.doneTime ? Date.parse(b.doneTime) : NaN;
    return {
      ...base,
      text:
        `Bulk ${actionName(b.action) ?? 'operation'} on ${b.total ?? 0} agents: ` +
        `${b.succeeded ?? 0} succeeded, ${b.failed ?? 0} failed, ${b.skipped ?? 0} skipped` +
        (b.rolledBack ? ', rolled back' : ''),
      description: by(b.actor),
      tone,
      status,
      durationMs: Number.isNaN(start) || Number.isNaN(done) ? undefined : done - start,
    };
  }
  const agent = eventAgent(e);
  if (!agent?.id || !inScope(scope, agent)) {
    return undefined;
  }
  const named = { ...base, agentId: agent.id, agentName: orElse(agent.displayName, orElse(agent.name, agent.id)) };
  switch (e.eventType) {
    case STATE_CHANGED: {
      const t = (e.data as AgentStateChangedJson | undefined)?.transition;
      const to = t?.toState ?? agent.state;
      const tone = toneOf(stateInfo(to).tone);
      const err = to === 'AGENT_STATE_ERRORED' ? agent.error : undefined;
      // A failure's reason is its error message, often long: it goes behind
      // the Details button with the error, as does any long reason.
      const reason = t?.reason;
      const shortReason = reason && reason.length <= SHORT_REASON && !err ? reason : undefined;
      let details: string | undefined;
      if (err) {
        details = join(err.code, orElse(err.message, reason ?? ''), err.probableCause);
      } else if (reason && shortReason === undefined) {
        details = reason;
      }
      return {
        ...named,
        time: t?.time ?? e.time,
        text: `${stateName(t?.fromState)} → ${stateName(to)}`,
        description: join(actionName(t?.action), by(t?.actor), shortReason),
        tone,
        status: stateInfo(to).label,
        details,
      };
    }
    case CREATED:
      return {
        ...named,
        text: 'created',
        description: by((e.data as AgentCreatedJson | undefined)?.actor),
        tone: 'info',
      };
    case DELETED:
      return {
        ...named,
        agentId: undefined,
        text: 'deleted',
        description: by((e.data as AgentDeletedJson | undefined)?.actor),
        tone: 'neutral',
      };
    case UPDATED: {
      const d = e.data as AgentUpdatedJson | undefined;
      const fields = d?.changedFields ?? [];
      return {
        ...named,
        text: fields.length > 0 ? `updated (${fields.join(', ')})` : 'updated',
        description: by(d?.actor),
        tone: 'neutral',
      };
    }
    default:
      return undefined;
  }
}

/** activityEntries is the newest `limit` events in the scope as timeline entries, newest first. */
export function activityEntries(events: readonly StreamEvent[], scope: Scope, limit = ACTIVITY_LIMIT): ActivityEntry[] {
  const out: ActivityEntry[] = [];
  const sorted = [...events].sort((a, b) => b.seq - a.seq);
  for (const e of sorted) {
    const entry = entryOf(e, scope);
    if (entry) {
      out.push(entry);
      if (out.length >= limit) {
        break;
      }
    }
  }
  return out;
}
