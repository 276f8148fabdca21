// The events page: the platform's event stream as it happens, newest first,
// starting from the recent history, narrowed by filters kept in the URL and
// by the global context, with pause and resume and each event's payload.
import { memo, useCallback, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useConnectionState } from '../../api/useConnectionState';
import type { ConnectionState, StreamEvent } from '../../api/ws';
import { useStream } from '../../app/context';
import { ScopeNote } from '../../app/ScopeNote';
import { useScope } from '../../app/scope';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { formatTime } from '../../ui/format';
import './events.css';
import {
  agentIdOf,
  agentIndex,
  collectionOf,
  distinct,
  filtersFromParams,
  filtersToParams,
  hasFilters,
  matchesFilters,
  matchesScope,
  NO_FILTERS,
  shortType,
  summarize,
  type EventFilters,
} from './model';
import { useNow } from '../../ui/clock';
import { formatRelative } from '../../ui/format';
import { useEventFeed } from './useEventFeed';

const count = new Intl.NumberFormat();

function connectionNote(state: ConnectionState): string | undefined {
  switch (state) {
    case 'open':
      return undefined;
    case 'connecting':
      return 'Connecting to the event stream…';
    case 'reconnecting':
      return 'The event stream is reconnecting: new events will appear once it is back, and the ones missed meanwhile are replayed.';
    case 'closed':
      return 'The event stream is closed: no new events arrive. Reload the page to follow it again.';
  }
}

export default function EventsPage() {
  const stream = useStream();
  const connection = useConnectionState(stream);
  const feed = useEventFeed();
  const scope = useScope();
  const now = useNow();
  const [search, setSearch] = useSearchParams();
  const filters = filtersFromParams(search);
  const [expanded, setExpanded] = useState<ReadonlySet<number>>(() => new Set());

  const index = useMemo(() => agentIndex(feed.items), [feed.items]);
  // The choices are what has been seen, and what the URL asks for.
  const collections = useMemo(
    () => distinct(feed.items, (e) => collectionOf(e.subject), filters.collection),
    [feed.items, filters.collection],
  );
  const types = useMemo(() => distinct(feed.items, (e) => shortType(e.eventType), filters.type), [feed.items, filters.type]);
  const shown = useMemo(
    () =>
      feed.items.filter(
        (e) =>
          matchesScope(e, scope, index) &&
          matchesFilters(e, { collection: filters.collection, type: filters.type, q: filters.q }),
      ),
    [feed.items, scope, index, filters.collection, filters.type, filters.q],
  );

  const toggle = useCallback((seq: number) => {
    setExpanded((s) => {
      const next = new Set(s);
      if (!next.delete(seq)) {
        next.add(seq);
      }
      return next;
    });
  }, []);
  const update = (patch: Partial<EventFilters>) => {
    setSearch(filtersToParams({ ...filters, ...patch }, search), { replace: true });
  };
  const note = connectionNote(connection);
  const filtered = hasFilters(filters) || scope.kind !== 'all';

  return (
    <section aria-labelledby="events-title" className="events-page">
      <div className="page-head">
        <h1 id="events-title" className="page-title">
          Events
        </h1>
        {/* Not a live region: with a busy stream it would talk without pause. */}
        <span className="muted">
          {count.format(shown.length)} of {count.format(feed.items.length)} events
        </span>
        <span className="ev-spacer" />
        {feed.paused ? (
          <button type="button" className="button button-primary" onClick={feed.resume}>
            Resume following
          </button>
        ) : (
          <button type="button" className="button" onClick={feed.pause}>
            Pause following
          </button>
        )}
      </div>

      {note ? (
        <p className="ev-banner" data-tone={connection === 'closed' ? 'error' : 'warning'} role="status">
          {note}
        </p>
      ) : null}
      {feed.paused ? (
        <p className="ev-banner" data-tone="info" role="status">
          Paused.{' '}
          {feed.pendingCount > 0
            ? `${count.format(feed.pendingCount)} new — resume to show`
            : 'New events are held until you resume.'}
          {feed.pendingCount > feed.pending.length ? ` (the newest ${count.format(feed.pending.length)} are kept)` : ''}
        </p>
      ) : null}
      <ScopeNote what="events" />

      <div className="toolbar ev-filters" role="search" aria-label="Filter events">
        <label className="field-inline">
          <span>Collection</span>
          <select
            className="input"
            value={filters.collection}
            onChange={(e) => {
              update({ collection: e.target.value });
            }}
          >
            <option value="">All collections</option>
            {collections.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline">
          <span>Type</span>
          <select
            className="input"
            value={filters.type}
            onChange={(e) => {
              update({ type: e.target.value });
            }}
          >
            <option value="">All types</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline ev-text">
          <span>Search</span>
          <input
            className="input"
            type="search"
            placeholder="Type, subject or payload…"
            maxLength={200}
            value={filters.q}
            onChange={(e) => {
              update({ q: e.target.value });
            }}
          />
        </label>
        <button
          type="button"
          className="button"
          disabled={!hasFilters(filters)}
          onClick={() => {
            update(NO_FILTERS);
          }}
        >
          Clear filters
        </button>
      </div>

      {feed.historyError ? (
        <div className="ev-error">
          <ErrorMessage error={feed.historyError} title="Cannot read the recent events" />
          <button type="button" className="button" onClick={feed.retry}>
            Try again
          </button>
        </div>
      ) : null}

      {!feed.historyLoaded && !feed.historyError && feed.items.length === 0 ? (
        <p className="muted ev-empty">Loading recent events…</p>
      ) : shown.length === 0 ? (
        <p className="muted ev-empty">
          {feed.items.length === 0
            ? 'No events yet. New ones appear here as they happen.'
            : filtered
              ? 'No event matches the filters.'
              : 'No events yet.'}
        </p>
      ) : (
        <ol className="ev-list" aria-label="Events, newest first">
          {shown.map((e) => (
            <EventRow
              key={e.seq}
              event={e}
              now={now}
              agentName={index.get(agentIdOf(e.subject) ?? '')?.name}
              expanded={expanded.has(e.seq)}
              onToggle={toggle}
            />
          ))}
        </ol>
      )}
    </section>
  );
}

// Memoised: a new event must not re-render the thousand rows below it.
const EventRow = memo(function EventRow({
  event: e,
  now,
  agentName,
  expanded,
  onToggle,
}: {
  event: StreamEvent;
  now: number;
  agentName: string | undefined;
  expanded: boolean;
  onToggle: (seq: number) => void;
}) {
  const payloadId = `ev-payload-${e.seq}`;
  const absolute = formatTime(e.time);
  return (
    <li className="ev-item" data-seq={e.seq}>
      <div className="ev-time">
        <time dateTime={e.time} title={absolute}>
          {formatRelative(e.time, now)}
        </time>
        <span className="small muted">{absolute}</span>
      </div>
      <div className="ev-main">
        <div className="ev-head">
          <span className="ev-type" title={e.eventType}>
            {shortType(e.eventType)}
          </span>
          <Subject subject={e.subject} name={agentName} />
        </div>
        <p className="ev-summary">{summarize(e)}</p>
      </div>
      <button
        type="button"
        className="button ev-toggle"
        aria-expanded={expanded}
        aria-controls={payloadId}
        aria-label={`Payload of event ${e.seq}`}
        onClick={() => {
          onToggle(e.seq);
        }}
      >
        <span aria-hidden="true">{expanded ? '▾' : '▸'}</span> Payload
      </button>
      {/* Focusable, so a keyboard can scroll a long payload. */}
      <pre
        id={payloadId}
        className="code-block ev-payload"
        hidden={!expanded}
        tabIndex={expanded ? 0 : undefined}
        aria-label={`Payload of event ${e.seq}, JSON`}
      >
        {expanded ? JSON.stringify(e.data ?? null, null, 2) : null}
      </pre>
    </li>
  );
});

function Subject({ subject, name }: { subject: string; name: string | undefined }) {
  const id = agentIdOf(subject);
  if (!id) {
    return <span className="ev-subject ev-subject-plain">{subject}</span>;
  }
  return (
    <span className="ev-subject">
      <Link to={`/agents/${encodeURIComponent(id)}`} className="agent-link">
        {name ?? subject}
      </Link>
      {name ? <span className="mono small muted ev-subject-id">{subject}</span> : null}
    </span>
  );
}
