// ProgressTracker shows a long-running job: how many of its items are done,
// the percentage, an estimate of the time left (from the pace so far), the
// steps with their outcome, and a cancel (or pause) when the job offers one.
// Used by bulk operations now; the factory and servicing reuse it.
import { useEffect, useState } from 'react';
import { formatSpan } from './format';
import './progress.css';

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface ProgressStep {
  id: string;
  label: string;
  status: StepStatus;
  /** Why it failed or was skipped. */
  detail?: string;
}

export interface ProgressTrackerProps {
  /** What is being done, e.g. "Stopping 12 agents". */
  label: string;
  done: number;
  total: number;
  /** When the job started (ms since the epoch): the time-left estimate needs it. */
  startedAt?: number;
  /** Whether the job has ended (no more estimate, no cancel). */
  finished?: boolean;
  steps?: ProgressStep[];
  onCancel?: () => void;
  cancelLabel?: string;
  onPause?: () => void;
  paused?: boolean;
  /** The clock, for tests. */
  now?: () => number;
}

const STATUS_TEXT: Record<StepStatus, string> = {
  pending: 'Waiting',
  running: 'Running',
  succeeded: 'Done',
  failed: 'Failed',
  skipped: 'Skipped',
};

const STATUS_ICON: Record<StepStatus, string> = {
  pending: '○',
  running: '◐',
  succeeded: '✓',
  failed: '✕',
  skipped: '–',
};

/** percent is done/total as a whole percentage (0 for an empty job, at most 100). */
export function percent(done: number, total: number): number {
  if (total <= 0) {
    return done > 0 ? 100 : 0;
  }
  return Math.min(100, Math.floor((done / total) * 100));
}

/**
 * remainingMs estimates the time left at the pace so far; undefined until
 * something is done (no pace yet) and once everything is.
 */
export function remainingMs(done: number, total: number, elapsedMs: number): number | undefined {
  if (done <= 0 || done >= total || elapsedMs <= 0) {
    return undefined;
  }
  return Math.round((elapsedMs / done) * (total - done));
}

export function ProgressTracker({
  label,
  done,
  total,
  startedAt,
  finished = false,
  steps,
  onCancel,
  cancelLabel = 'Cancel',
  onPause,
  paused = false,
  now = Date.now,
}: ProgressTrackerProps) {
  // Re-render every second while running, so the estimate counts down
  // between progress reports. A clock, not a poll: nothing is fetched.
  const [, setTick] = useState(0);
  useEffect(() => {
    if (finished || startedAt === undefined) {
      return;
    }
    const t = setInterval(() => {
      setTick((n) => n + 1);
    }, 1000);
    return () => {
      clearInterval(t);
    };
  }, [finished, startedAt]);

  const pct = percent(done, total);
  const left = !finished && startedAt !== undefined ? remainingMs(done, total, now() - startedAt) : undefined;
  const valueText = `${String(done)} of ${String(total)} (${String(pct)}%)`;
  return (
    <div className="progress" data-finished={finished}>
      <div className="progress-head">
        <span className="progress-label">{label}</span>
        <span className="progress-count mono">{valueText}</span>
      </div>
      <div
        className="progress-bar"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={done}
        aria-valuetext={valueText}
      >
        <div className="progress-fill" style={{ width: `${String(pct)}%` }} />
      </div>
      <div className="progress-foot">
        <span className="muted small" aria-live="polite">
          {finished
            ? 'Finished'
            : paused
              ? 'Paused'
              : left !== undefined && left >= 1000
                ? `About ${formatSpan(left / 1000)} left`
                : done === 0
                  ? 'Starting…'
                  : 'Almost done'}
        </span>
        {!finished && (onPause || onCancel) ? (
          <span className="progress-actions">
            {onPause ? (
              <button type="button" className="button" onClick={onPause}>
                {paused ? 'Resume' : 'Pause'}
              </button>
            ) : null}
            {onCancel ? (
              <button type="button" className="button button-danger" onClick={onCancel}>
                {cancelLabel}
              </button>
            ) : null}
          </span>
        ) : null}
      </div>
      {steps && steps.length > 0 ? (
        <ol className="progress-steps" aria-label="Steps">
          {steps.map((s) => (
            <li key={s.id} className="progress-step" data-status={s.status}>
              <span className="progress-step-icon" aria-hidden="true">
                {STATUS_ICON[s.status]}
              </span>
              <span className="progress-step-label">{s.label}</span>
              <span className="progress-step-status">{STATUS_TEXT[s.status]}</span>
              {s.detail ? <span className="progress-step-detail muted small">{s.detail}</span> : null}
            </li>
          ))}
        </ol>
      ) : null}
    </div>
  );
}
