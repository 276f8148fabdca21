// The platform health banner's one line: the event stream's state, the
// gateway's readiness (GET /readyz) and the agents in error, worst first.
import { ApiError, parseApiError } from '../../api/client';
import type { ConnectionState } from '../../api/ws';

export type HealthTone = 'success' | 'info' | 'warning' | 'error';

export interface Health {
  tone: HealthTone;
  text: string;
}

/** GET /readyz's answer: "ok" or "unavailable", and each dependency's check. */
export interface Readiness {
  status: string;
  checks: Record<string, string>;
}

export interface HealthInput {
  connection: ConnectionState;
  readiness?: Readiness | undefined;
  readinessError?: unknown;
  /** Agents in an error state, in the scope; undefined while unknown. */
  inError?: number | undefined;
  /** Why the agents could not be read, if they could not. */
  agentsError?: unknown;
}

const RANK: Record<HealthTone, number> = { success: 0, info: 1, warning: 2, error: 3 };

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** healthOf sums up what is wrong, most serious first; "All systems operational" when nothing is. */
function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : 'unexpected error';
}

export function healthOf({ connection, readiness, readinessError, inError, agentsError }: HealthInput): Health {
  const parts: Health[] = [];
  if (connection === 'reconnecting') {
    parts.push({ tone: 'warning', text: 'Event stream reconnecting — figures may be stale' });
  } else if (connection !== 'open') {
    parts.push({ tone: 'info', text: 'Connecting to the event stream…' });
  }
  const degraded: string[] = [];
  if (readiness && readiness.status !== 'ok') {
    const failing = Object.entries(readiness.checks)
      .filter(([, v]) => v !== 'ok')
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`);
    degraded.push(...(failing.length > 0 ? failing : [`platform ${readiness.status}`]));
  }
  if (inError !== undefined && inError > 0) {
    degraded.push(`${plural(inError, 'agent', 'agents')} in error`);
  }
  if (degraded.length > 0) {
    parts.push({ tone: 'error', text: `Degraded: ${degraded.join('; ')}` });
  }
  if (readinessError) {
    parts.push({ tone: 'warning', text: `Cannot check the platform’s health: ${messageOf(readinessError)}` });
  }
  if (agentsError) {
    parts.push({ tone: 'warning', text: `Cannot count the agents in error: ${messageOf(agentsError)}` });
  }
  if (!parts.some((p) => RANK[p.tone] >= RANK.warning)) {
    if (readiness === undefined && !readinessError) {
      parts.push({ tone: 'info', text: 'Checking the platform’s health…' });
    } else if (inError === undefined) {
      parts.push({ tone: 'info', text: 'Counting the agents…' });
    } else {
      parts.unshift({ tone: 'success', text: 'All systems operational' });
    }
  }
  parts.sort((a, b) => RANK[b.tone] - RANK[a.tone]);
  return {
    tone: parts[0]?.tone ?? 'success',
    text: parts.map((p) => p.text).join(' · '),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * fetchReadiness reads GET /readyz (public). Not through request(): a 503
 * here is an answer (which checks failed), and request() keeps only the
 * message of a failed response.
 */
export async function fetchReadiness(signal?: AbortSignal): Promise<Readiness> {
  let res: Response;
  try {
    res = await fetch('/readyz', { headers: { Accept: 'application/json' }, credentials: 'same-origin', signal: signal ?? null });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') {
      throw err;
    }
    throw new ApiError({
      status: 0,
      code: 14,
      message: `cannot reach the portal: ${err instanceof Error ? err.message : String(err)}`,
      cause: err,
    });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isRecord(body) && typeof body.status === 'string') {
    const checks: Record<string, string> = {};
    if (isRecord(body.checks)) {
      for (const [k, v] of Object.entries(body.checks)) {
        if (typeof v === 'string') {
          checks[k] = v;
        }
      }
    }
    return { status: body.status, checks };
  }
  throw parseApiError(res.status, res.headers, text);
}
