import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { getCoreRowModel, useReactTable, type ColumnDef, type SortingState } from '@tanstack/react-table';
import { useState } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { TableView } from './TableView';

afterEach(cleanup);

interface Row {
  id: string;
  name: string;
}

const columns: ColumnDef<Row>[] = [
  { id: 'name', header: 'Name', accessorFn: (r) => r.name, enableSorting: true },
  { id: 'actions', header: 'Actions', enableSorting: false, cell: () => <button type="button">Do</button> },
];

function Harness({ rows, pending = false, selected = {} }: { rows: Row[]; pending?: boolean; selected?: Record<string, boolean> }) {
  const [sorting, setSorting] = useState<SortingState>([]);
  // eslint-disable-next-line react-hooks/incompatible-library
  const table = useReactTable({
    data: rows,
    columns,
    getRowId: (r) => r.id,
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    state: { sorting, rowSelection: selected },
    onSortingChange: setSorting,
  });
  return <TableView table={table} label="Things" pending={pending} empty="Nothing here." />;
}

describe('TableView', () => {
  it('draws the rows in a focusable scroll region, with sortable headers that say their order', () => {
    render(<Harness rows={[{ id: 'a', name: 'alpha' }]} selected={{ a: true }} />);
    const region = screen.getByRole('region', { name: 'Things' });
    expect(region.tabIndex).toBe(0);
    const header = screen.getByRole('columnheader', { name: /Name/ });
    expect(header.getAttribute('aria-sort')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: /Name/ }));
    expect(screen.getByRole('columnheader', { name: /Name/ }).getAttribute('aria-sort')).toBe('ascending');
    fireEvent.click(screen.getByRole('button', { name: /Name/ }));
    expect(screen.getByRole('columnheader', { name: /Name/ }).getAttribute('aria-sort')).toBe('descending');
    // Not sortable: no button.
    expect(screen.queryByRole('button', { name: /^Actions/ })).toBeNull();
    const row = document.querySelector<HTMLElement>('tr[data-row-id="a"]');
    expect(row?.dataset.selected).toBe('true');
    expect(row?.querySelector('td.cell-actions')).toBeTruthy();
  });

  it('says when it is loading and when there is nothing, across the whole row', () => {
    const { rerender } = render(<Harness rows={[]} pending />);
    expect(screen.getByText('Loading…').getAttribute('colspan')).toBe('2');
    rerender(<Harness rows={[]} />);
    expect(screen.getByText('Nothing here.')).toBeTruthy();
  });
});
