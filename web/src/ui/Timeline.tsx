// A vertical timeline of things that happened, newest first as given: each
// with a status icon, a relative time ("3 min ago", the exact time in a
// <time> element and its tooltip), an optional duration, and details that
// open and close with a button.
import { useId, useState, type ReactNode } from 'react';
import { useNow } from './clock';
import { formatRelative } from './format';
import './components.css';

export type TimelineTone = 'success' | 'warning' | 'error' | 'info' | 'neutral';

export interface TimelineItem {
  id: string;
  /** When: an RFC 3339 string, epoch milliseconds or a Date. */
  time: string | number | Date;
  title: ReactNode;
  description?: ReactNode;
  tone?: TimelineTone;
  /** Said to screen readers with the icon: "succeeded", "failed". */
  status?: string;
  /** How long it took, milliseconds. */
  durationMs?: number;
  /** Shown when the item's Details button is pressed. */
  details?: ReactNode;
}

export interface TimelineProps {
  items: readonly TimelineItem[];
  /** The list's accessible name. */
  label: string;
  /** Shown when there are no items. */
  emptyText?: ReactNode;
  /** The current time for the relative times; a clock of its own when not given. */
  now?: number;
}

const ICONS: Record<TimelineTone, string> = {
  success: '✓',
  warning: '!',
  error: '✕',
  info: 'i',
  neutral: '•',
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function toDate(t: TimelineItem['time']): Date {
  return t instanceof Date ? t : new Date(t);
}

/** formatDuration is a short duration: "850 ms", "4.2 s", "3 min", "2 h 5 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    return '—';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < MINUTE) {
    return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  }
  if (ms < HOUR) {
    return `${Math.round(ms / MINUTE)} min`;
  }
  if (ms < DAY) {
    const h = Math.floor(ms / HOUR);
    const m = Math.round((ms % HOUR) / MINUTE);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(ms / DAY);
  const h = Math.round((ms % DAY) / HOUR);
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

function Entry({ item, now }: { item: TimelineItem; now: number }) {
  const [open, setOpen] = useState(false);
  const detailsId = useId();
  const tone = item.tone ?? 'neutral';
  const at = toDate(item.time);
  const valid = !Number.isNaN(at.getTime());
  return (
    <li className="tl-item" data-tone={tone}>
      <span className="tl-icon" aria-hidden="true">
        {ICONS[tone]}
      </span>
      <div className="tl-body">
        <div className="tl-head">
          <span className="tl-title">
            {item.status ? <span className="sr-only">{item.status}: </span> : null}
            {item.title}
          </span>
          {valid ? (
            <time className="tl-time" dateTime={at.toISOString()} title={at.toLocaleString()}>
              {formatRelative(at, now)}
            </time>
          ) : (
            <span className="tl-time">unknown time</span>
          )}
        </div>
        {item.description ? <p className="tl-description">{item.description}</p> : null}
        {item.durationMs !== undefined ? <div className="tl-meta">took {formatDuration(item.durationMs)}</div> : null}
        {item.details ? (
          <>
            <button
              type="button"
              className="tl-toggle"
              aria-expanded={open}
              aria-controls={detailsId}
              onClick={() => {
                setOpen((o) => !o);
              }}
            >
              {open ? 'Hide details' : 'Details'}
            </button>
            <div id={detailsId} className="tl-details" hidden={!open}>
              {item.details}
            </div>
          </>
        ) : null}
      </div>
    </li>
  );
}

export function Timeline({ items, label, emptyText = 'Nothing has happened yet.', now }: TimelineProps) {
  const clock = useNow(now === undefined ? 30_000 : 0);
  const at = now ?? clock;
  if (items.length === 0) {
    return <p className="tl-empty">{emptyText}</p>;
  }
  return (
    <ol className="tl" aria-label={label}>
      {items.map((item) => (
        <Entry key={item.id} item={item} now={at} />
      ))}
    </ol>
  );
}
