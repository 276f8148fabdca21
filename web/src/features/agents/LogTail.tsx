// LogTail shows an agent's last log lines and follows new ones live on the
// gateway's log stream (/ws/logs, topic agents/<id>), seeded by the REST
// tail. A separate connection from the event stream: log lines are many and
// short-lived, and only this page wants them.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { defaultStreamURL, EventStream, type StreamEvent, type WebSocketFactory } from '../../api/ws';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import type { LogLineJson } from '../../gen/portal/provisioning/v1/provisioning_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { logsQuery } from './queries';

/** The most lines kept: older ones drop off the top. */
export const MAX_LINES = 500;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** atLeastLevel keeps lines at the level or above (unknown levels count as info). */
export function atLeastLevel(line: LogLineJson, min: Level): boolean {
  const rank = LEVELS.indexOf(line.level as Level);
  return (rank < 0 ? 1 : rank) >= LEVELS.indexOf(min);
}

/** appendLines adds lines, skipping ones already there (a seed overlapping the live ones), keeping the last max. */
export function appendLines(have: readonly LogLineJson[], more: readonly LogLineJson[], max = MAX_LINES): LogLineJson[] {
  const key = (l: LogLineJson) => `${l.time ?? ''}|${l.instance ?? ''}|${l.message ?? ''}`;
  const seen = new Set(have.map(key));
  const out = [...have];
  for (const l of more) {
    const k = key(l);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(l);
    }
  }
  out.sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''));
  return out.length > max ? out.slice(out.length - max) : out;
}

function formatLine(l: LogLineJson): string {
  const t = l.time ? new Date(l.time).toISOString().slice(11, 23) : '';
  return `${t} ${l.instance ?? ''} ${(l.level ?? '').padEnd(5)} ${l.message ?? ''}`;
}

export function LogTail({ agent, socket }: { agent: AgentJson; /** Tests inject a fake. */ socket?: WebSocketFactory }) {
  const id = agent.id ?? '';
  // A draft has no workload, so no logs to ask for.
  const hasWorkload = agent.state !== undefined && agent.state !== 'AGENT_STATE_DRAFT';
  const seed = useQuery({ ...logsQuery(id), enabled: hasWorkload });
  const [live, setLive] = useState<LogLineJson[]>([]);
  const [min, setMin] = useState<Level>('debug');
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  const stream = useMemo(
    () => new EventStream({ url: defaultStreamURL().replace(/\/ws$/, '/ws/logs'), WebSocket: socket }),
    [socket],
  );
  const state = useSyncExternalStore(stream.subscribeState, stream.getState);
  useEffect(() => {
    if (!hasWorkload) {
      return;
    }
    stream.start();
    const off = stream.subscribe(`agents/${id}`, (e: StreamEvent) => {
      const line = e.data as LogLineJson | undefined;
      if (line?.message !== undefined) {
        setLive((have) => appendLines(have, [line]));
      }
    });
    return () => {
      off();
      stream.close();
    };
  }, [stream, id, hasWorkload]);

  const lines = useMemo(
    () => appendLines(seed.data?.lines ?? [], live).filter((l) => atLeastLevel(l, min)),
    [seed.data, live, min],
  );
  useEffect(() => {
    if (follow && box.current) {
      box.current.scrollTop = box.current.scrollHeight;
    }
  }, [lines, follow]);

  return (
    <div className="card card-wide" id="logs">
      <div className="card-head">
        <h2 className="card-title">Logs</h2>
        <span className="muted small" role="status" data-state={state}>
          {!hasWorkload ? 'no workload yet' : state === 'open' ? 'following live' : state}
        </span>
        <span className="shell-spacer" />
        <label className="field-inline">
          <span>Level</span>
          <select
            className="input"
            value={min}
            onChange={(e) => {
              setMin(e.target.value as Level);
            }}
          >
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l === 'debug' ? 'all' : `${l} and above`}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={follow}
            onChange={(e) => {
              setFollow(e.target.checked);
            }}
          />
          <span>Scroll with new lines</span>
        </label>
      </div>
      <ErrorMessage error={seed.error} />
      <pre ref={box} className="code-block logs" tabIndex={0} aria-label="Log lines" data-testid="log-lines">
        {!hasWorkload
          ? 'No workload yet: provision the agent to run it.'
          : lines.length === 0
            ? 'No log lines yet.'
            : lines.map(formatLine).join('\n')}
      </pre>
    </div>
  );
}
