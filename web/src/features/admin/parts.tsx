// Pieces the admin pages share: the table (on @tanstack/react-table, headless),
// a status pill, a pager over page tokens, and a clock for time left.
import { getCoreRowModel, useReactTable, type ColumnDef } from '@tanstack/react-table';
import type { CSSProperties } from 'react';
import { formatTime } from '../../ui/format';
import { TableView } from '../../ui/TableView';
import { toneColor, type Tone } from './model';

/**
 * DataTable draws rows with the given columns in the app's table style
 * (ui/TableView); a column with id "actions" is right-aligned.
 */
export function DataTable<T>({
  label,
  columns,
  data,
  pending,
  fetching,
  empty,
  rowId,
}: {
  label: string;
  columns: ColumnDef<T>[];
  data: T[];
  pending: boolean;
  fetching?: boolean;
  empty: string;
  rowId: (row: T) => string;
}) {
  // The table instance is rebuilt each render from its inputs; nothing of it is memoised.
  // eslint-disable-next-line react-hooks/incompatible-library
  const table = useReactTable({ data, columns, getCoreRowModel: getCoreRowModel(), getRowId: rowId });
  return (
    <TableView table={table} label={label} pending={pending} fetching={fetching} empty={empty} className="admin-table" />
  );
}

/** Pill shows a state as a coloured pill, like the agents' status badges. */
export function Pill({ tone, children }: { tone: Tone; children: string }) {
  return (
    <span className="status-badge admin-pill" data-tone={tone} style={{ '--badge-color': toneColor(tone) } as CSSProperties}>
      <span className="status-dot" aria-hidden="true" />
      {children}
    </span>
  );
}

/**
 * Pager moves through a list paged by tokens: `pages` holds the tokens of
 * the pages before this one and this one's.
 */
export function Pager({
  pages,
  next,
  onPages,
}: {
  pages: string[];
  next: string | undefined;
  onPages: (pages: string[]) => void;
}) {
  if (pages.length === 0 && !next) {
    return null;
  }
  return (
    <nav className="pager" aria-label="Pages">
      <button
        type="button"
        className="button"
        disabled={pages.length === 0}
        onClick={() => {
          onPages(pages.slice(0, -1));
        }}
      >
        Previous
      </button>
      <span className="muted">Page {pages.length + 1}</span>
      <button
        type="button"
        className="button"
        disabled={!next}
        onClick={() => {
          if (next) {
            onPages([...pages, next]);
          }
        }}
      >
        Next
      </button>
    </nav>
  );
}

const SAME_YEAR = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const OTHER_YEAR = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const THIS_YEAR = new Date().getFullYear();

/**
 * When shows a time short enough for a table cell ("Nov 22, 9:41 PM"; the
 * date alone in another year), the full one in its title; "—" when absent.
 */
export function When({ t }: { t: string | null | undefined }) {
  if (!t) {
    return <span className="muted">—</span>;
  }
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) {
    return <>{t}</>;
  }
  const short = (d.getFullYear() === THIS_YEAR ? SAME_YEAR : OTHER_YEAR).format(d);
  return (
    <time className="admin-when" dateTime={t} title={formatTime(t)}>
      {short}
    </time>
  );
}
