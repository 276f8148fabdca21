// The audit page: search the audit log (the search kept in the URL), page
// through the results, open an entry to its full content and hashes, check
// the hash chain, and (admins) export a time range. New events that arrive
// after a search are counted, not polled for.
import { useInfiniteQuery } from '@tanstack/react-query';
import {
  flexRender,
  getCoreRowModel,
  useReactTable,
  type ColumnDef,
  type ExpandedState,
} from '@tanstack/react-table';
import { Fragment, useEffect, useMemo, useState, type CSSProperties, type ReactNode } from 'react';
import { Link, useSearchParams } from 'react-router';
import { exportURL, searchEntries } from '../../api/audit';
import { atLeast, useRole, useStream } from '../../app/context';
import { scopeLabel, useScope } from '../../app/scope';
import type { EntryJson } from '../../gen/portal/audit/v1/audit_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { formatTime } from '../../ui/format';
import './audit.css';
import { AuditSearchForm } from './AuditSearchForm';
import { ChainStatus } from './ChainStatus';
import {
  agentOfResource,
  AUDIT_FILTER_KEYS,
  b64ToHex,
  exportRange,
  nonEmpty,
  filtersFromParams,
  filtersToParams,
  outcomeTone,
  scopeResource,
  searchParamsOf,
  type AuditFilters,
} from './model';

const PAGE_SIZE = 50;
/** The most arrivals counted after a search ("1,000+" beyond). */
const MAX_COUNTED = 1000;
const count = new Intl.NumberFormat();

function shortAction(action: string | undefined): string {
  const a = action ?? '';
  return a.slice(a.lastIndexOf('.') + 1);
}

function OutcomeBadge({ outcome }: { outcome: string | undefined }) {
  const tone = outcomeTone(outcome);
  return (
    <span className="status-badge" data-tone={tone} style={{ '--badge-color': `var(--color-${tone})` } as CSSProperties}>
      <span className="status-dot" aria-hidden="true" />
      {outcome ?? 'unknown'}
    </span>
  );
}

function Resource({ resource }: { resource: string | undefined }) {
  const id = agentOfResource(resource);
  if (id) {
    return (
      <Link to={`/agents/${encodeURIComponent(id)}`} className="mono audit-resource">
        {resource}
      </Link>
    );
  }
  return <span className="mono audit-resource">{resource ?? '—'}</span>;
}

function EntryDetails({ entry: e }: { entry: EntryJson }) {
  const facts: [string, ReactNode][] = [
    ['Seq', e.seq],
    ['Event id', <code key="id">{e.eventId}</code>],
    ['Stream seq', e.streamSeq],
    ['Time', formatTime(e.time)],
    ['Recorded', formatTime(e.recordTime)],
    ['Actor', e.actor],
    ['Action', <code key="a">{e.action}</code>],
    ['Resource', <Resource key="r" resource={e.resource} />],
    ['Outcome', <OutcomeBadge key="o" outcome={e.outcome} />],
    ['Source', e.source],
    ['Summary', e.summary],
    ['Previous hash', <code key="p" className="audit-hash-full">{b64ToHex(e.prevHash)}</code>],
    ['Hash', <code key="h" className="audit-hash-full">{b64ToHex(e.hash)}</code>],
  ];
  return (
    <div className="audit-details">
      <dl className="facts audit-facts">
        {facts.map(([k, v]) => (
          <div className="facts-row" key={k}>
            <dt>{k}</dt>
            <dd>{v ?? '—'}</dd>
          </div>
        ))}
      </dl>
      <h3 className="audit-details-title">Details</h3>
      {/* Focusable, so a keyboard can scroll long details. */}
      <pre className="code-block audit-json" tabIndex={0} aria-label={`Details of entry ${e.seq ?? ''}, JSON`}>{JSON.stringify(e.details ?? {}, null, 2)}</pre>
    </div>
  );
}

export default function AuditPage() {
  const role = useRole();
  const stream = useStream();
  const scope = useScope();
  const [search, setSearch] = useSearchParams();
  const filters = filtersFromParams(search);
  // The agent scope's prefix applies until removed (per agent: choosing
  // another agent applies again); a resource typed in the form replaces it.
  const [dismissedScope, setDismissedScope] = useState<string | undefined>();
  const [mountedAt] = useState(() => Date.now());
  const scopePrefix = scopeResource(scope);
  const scopeApplied = scopePrefix !== undefined && dismissedScope !== scopePrefix && filters.resource === '';
  const params = searchParamsOf(filters, scopeApplied ? scopePrefix : undefined);

  const results = useInfiniteQuery({
    queryKey: ['audit', 'search', params],
    queryFn: async ({ pageParam, signal }) => {
      // When the search started: events after it are "new since this search".
      const startedAt = Date.now();
      const page = await searchEntries({ ...params, pageSize: PAGE_SIZE, pageToken: pageParam || undefined }, signal);
      return { ...page, startedAt };
    },
    initialPageParam: '',
    getNextPageParam: (last) => nonEmpty(last.nextPageToken),
  });
  const searchedAt = results.data?.pages[0]?.startedAt;

  // Every event of the stream is recorded in the audit log: count those
  // that came after the search, instead of polling for them.
  const [arrivals, setArrivals] = useState<number[]>([]);
  useEffect(
    () =>
      stream.subscribe('*', () => {
        const t = Date.now();
        setArrivals((a) => [...a.slice(-(MAX_COUNTED - 1)), t]);
      }),
    [stream],
  );
  const newSince = searchedAt === undefined ? 0 : arrivals.filter((t) => t > searchedAt).length;

  const entries = useMemo(() => results.data?.pages.flatMap((p) => p.entries ?? []) ?? [], [results.data]);
  const [expanded, setExpanded] = useState<ExpandedState>({});
  const columns = useMemo<ColumnDef<EntryJson>[]>(
    () => [
      { id: 'seq', header: 'Seq', cell: ({ row }) => <span className="mono">{row.original.seq}</span> },
      { id: 'time', header: 'Time', cell: ({ row }) => <span className="audit-nowrap">{formatTime(row.original.time)}</span> },
      { id: 'actor', header: 'Actor', cell: ({ row }) => <span className="audit-actor">{row.original.actor}</span> },
      {
        id: 'action',
        header: 'Action',
        cell: ({ row }) => (
          <span className="audit-action" title={row.original.action}>
            {shortAction(row.original.action)}
          </span>
        ),
      },
      { id: 'resource', header: 'Resource', cell: ({ row }) => <Resource resource={row.original.resource} /> },
      { id: 'outcome', header: 'Outcome', cell: ({ row }) => <OutcomeBadge outcome={row.original.outcome} /> },
      {
        id: 'details',
        header: () => <span className="sr-only">Details</span>,
        cell: ({ row }) => (
          <button
            type="button"
            className="button audit-toggle"
            aria-expanded={row.getIsExpanded()}
            aria-controls={row.getIsExpanded() ? `audit-entry-${row.id}` : undefined}
            aria-label={`Details of entry ${row.original.seq ?? ''}`}
            onClick={row.getToggleExpandedHandler()}
          >
            <span aria-hidden="true">{row.getIsExpanded() ? '▾' : '▸'}</span> Details
          </button>
        ),
      },
    ],
    [],
  );
  // eslint-disable-next-line react-hooks/incompatible-library -- the table's functions are read in this render only
  const table = useReactTable({
    data: entries,
    columns,
    getRowId: (e) => e.seq ?? '',
    getCoreRowModel: getCoreRowModel(),
    getRowCanExpand: () => true,
    state: { expanded },
    onExpandedChange: setExpanded,
  });

  const runSearch = (f: AuditFilters) => {
    const next = filtersToParams(f);
    if (next.toString() === search.toString()) {
      void results.refetch();
    } else {
      setSearch(next);
    }
  };

  const isAdmin = atLeast(role, 'admin');
  const range = exportRange(filters, searchedAt ?? mountedAt);
  const hasSearch = AUDIT_FILTER_KEYS.some((k) => filters[k] !== '');

  return (
    <section aria-labelledby="audit-title" className="audit-page">
      <div className="page-head">
        <h1 id="audit-title" className="page-title">
          Audit
        </h1>
        <span className="muted">Every event of the platform, append-only and hash-chained.</span>
      </div>

      <ChainStatus />

      {scope.kind === 'customer' ? (
        <p className="audit-note" role="note">
          The context <strong>{scopeLabel(scope)}</strong> does not apply to the audit search: audit entries carry no agent
          labels, so these results cover every customer. To narrow them, search by an agent’s resource (agents/&lt;id&gt;).
        </p>
      ) : null}

      <AuditSearchForm key={search.toString()} initial={filters} error={results.error} onSearch={runSearch} />

      {scopeApplied ? (
        <div className="audit-chips" aria-label="Applied from the context">
          <span className="audit-chip">
            Resource <code>{scopePrefix}</code>
            <span className="muted"> (context: {scopeLabel(scope)})</span>
            <button
              type="button"
              className="audit-chip-remove"
              aria-label={`Remove the context filter ${scopePrefix}`}
              onClick={() => {
                setDismissedScope(scopePrefix);
              }}
            >
              ×
            </button>
          </span>
        </div>
      ) : null}

      {isAdmin ? (
        <div className="audit-export" role="group" aria-label="Export">
          <span className="audit-export-label">Export</span>
          {range.problem ? (
            <span className="small warning-text">Cannot export this range: {range.problem}.</span>
          ) : (
            <>
              <a
                className="button"
                href={exportURL('csv', range.start, range.end)}
                download={`audit-${range.start.slice(0, 10)}-${range.end.slice(0, 10)}.csv`}
              >
                Export CSV
              </a>
              <a
                className="button"
                href={exportURL('json', range.start, range.end)}
                download={`audit-${range.start.slice(0, 10)}-${range.end.slice(0, 10)}.json`}
              >
                Export JSON
              </a>
              <span className="small muted">
                {formatTime(range.start)} – {formatTime(range.end)}
                {filters.from || filters.to ? '' : ' (no time range searched: the last year)'}; the time range only, with the
                chain’s verification at the end.
              </span>
            </>
          )}
        </div>
      ) : null}

      {newSince > 0 ? (
        <p className="audit-new" role="status">
          {count.format(newSince)}
          {newSince >= MAX_COUNTED ? '+' : ''} new {newSince === 1 ? 'event' : 'events'} since this search —{' '}
          <button
            type="button"
            className="audit-link-button"
            onClick={() => {
              void results.refetch();
            }}
          >
            refresh
          </button>
        </p>
      ) : null}

      <ErrorMessage error={results.error} title="Cannot search the audit log" />

      <div className="table-wrap audit-table-wrap" tabIndex={0} role="region" aria-label="Audit entries">
        <table className="table audit-table" aria-busy={results.isFetching}>
          <thead>
            {table.getHeaderGroups().map((hg) => (
              <tr key={hg.id}>
                {hg.headers.map((h) => (
                  <th key={h.id} scope="col">
                    {flexRender(h.column.columnDef.header, h.getContext())}
                  </th>
                ))}
              </tr>
            ))}
          </thead>
          <tbody>
            {results.isPending ? (
              <tr>
                <td colSpan={columns.length} className="muted">
                  Searching…
                </td>
              </tr>
            ) : results.isError && entries.length === 0 ? (
              <tr>
                <td colSpan={columns.length} className="muted audit-empty">
                  No results: the search failed (see above).
                </td>
              </tr>
            ) : entries.length === 0 ? (
              <tr>
                <td colSpan={columns.length} className="muted audit-empty">
                  {hasSearch || scopeApplied ? 'No audit entries match this search.' : 'The audit log is empty.'}
                </td>
              </tr>
            ) : (
              table.getRowModel().rows.map((row) => (
                <Fragment key={row.id}>
                  <tr data-seq={row.original.seq} data-expanded={row.getIsExpanded() || undefined}>
                    {row.getVisibleCells().map((cell) => (
                      <td key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</td>
                    ))}
                  </tr>
                  {row.getIsExpanded() ? (
                    <tr className="audit-details-row" id={`audit-entry-${row.id}`}>
                      <td colSpan={columns.length}>
                        <EntryDetails entry={row.original} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))
            )}
          </tbody>
        </table>
      </div>
      <div className="pager">
        <span className="muted">
          {entries.length > 0 ? `${count.format(entries.length)} ${entries.length === 1 ? 'entry' : 'entries'} shown` : ''}
          {entries.length > 0 && !results.hasNextPage ? ', the last of this search' : ''}
        </span>
        {results.hasNextPage ? (
          <button
            type="button"
            className="button"
            disabled={results.isFetchingNextPage}
            onClick={() => {
              void results.fetchNextPage();
            }}
          >
            {results.isFetchingNextPage ? 'Loading…' : 'Load more'}
          </button>
        ) : null}
      </div>
    </section>
  );
}
