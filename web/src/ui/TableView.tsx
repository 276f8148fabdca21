// TableView draws a TanStack Table instance in the app's table style: in a
// scroll box a keyboard can scroll sideways (it is focusable), so a phone's
// page never does; sortable columns get a header button with aria-sort;
// loading and empty states span the row. The caller builds the table
// (columns, selection, sorting state); this only renders it.
import { flexRender, type Table } from '@tanstack/react-table';

/** Columns with these ids get their own cell class: narrow, or right-aligned. */
const CELL_CLASS: Record<string, string> = { actions: 'cell-actions', select: 'cell-select' };

export function TableView<T>({
  table,
  label,
  pending,
  fetching,
  empty,
  loadingText = 'Loading…',
  className,
}: {
  table: Table<T>;
  /** The scroll box's accessible name. */
  label: string;
  pending: boolean;
  fetching?: boolean;
  empty: string;
  loadingText?: string;
  className?: string;
}) {
  const rows = table.getRowModel().rows;
  const width = table.getVisibleLeafColumns().length;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table className={className ? `table ${className}` : 'table'} aria-busy={fetching ?? pending}>
        <thead>
          {table.getHeaderGroups().map((hg) => (
            <tr key={hg.id}>
              {hg.headers.map((h) => {
                const sorted = h.column.getIsSorted();
                const content = h.isPlaceholder ? null : flexRender(h.column.columnDef.header, h.getContext());
                return (
                  <th
                    key={h.id}
                    scope="col"
                    className={CELL_CLASS[h.column.id]}
                    aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}
                  >
                    {h.column.getCanSort() ? (
                      <button type="button" className="sort-button" onClick={h.column.getToggleSortingHandler()}>
                        {content}
                        <span aria-hidden="true" className="sort-mark">
                          {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : '↕'}
                        </span>
                      </button>
                    ) : (
                      content
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {pending || rows.length === 0 ? (
            <tr>
              <td colSpan={width} className="muted">
                {pending ? loadingText : empty}
              </td>
            </tr>
          ) : (
            rows.map((row) => (
              <tr key={row.id} data-row-id={row.id} data-selected={row.getIsSelected()}>
                {row.getVisibleCells().map((cell) => (
                  <td key={cell.id} className={CELL_CLASS[cell.column.id]}>
                    {flexRender(cell.column.columnDef.cell, cell.getContext())}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
