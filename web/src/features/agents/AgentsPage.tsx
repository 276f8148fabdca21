// The agents page: the fleet as a table or as cards, searched, filtered,
// sorted and paged on the server, narrowed by the global context, kept live
// by the event stream, with per-agent actions and, for operators, a
// selection that one bulk action runs on.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import {
  getCoreRowModel,
  useReactTable,
  type ColumnDef,
  type RowSelectionState,
  type SortingState,
} from '@tanstack/react-table';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { AgentActionName, ListAgentsParams } from '../../api/agents';
import { canOperate, useRole } from '../../app/context';
import { ScopeNote } from '../../app/ScopeNote';
import { inScope, scopeLabelSelector, useScope } from '../../app/scope';
import type { AgentJson, AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { formatTime, orElse } from '../../ui/format';
import { TableView } from '../../ui/TableView';
import { AgentActionMenu } from './AgentActionMenu';
import './agents.css';
import { applicableCount, BULK_ACTIONS } from './bulk';
import { BulkActionDialog } from './BulkActionDialog';
import { CreateAgentDialog } from './CreateAgentDialog';
import { detailQuery, listQuery, useAgentEvents } from './queries';
import { StatusBadge } from './StatusBadge';
import { actionLabel, FILTER_STATES, stateInfo } from './states';

const PAGE_SIZE = 25;
const VIEW_KEY = 'portal-agents-view';

type View = 'table' | 'cards';

const ORDERS: { value: string; label: string }[] = [
  { value: 'name', label: 'Name (A–Z)' },
  { value: 'name desc', label: 'Name (Z–A)' },
  { value: 'update_time desc', label: 'Recently updated' },
  { value: 'update_time', label: 'Least recently updated' },
  { value: 'create_time desc', label: 'Newest' },
  { value: 'create_time', label: 'Oldest' },
];

// The table's sortable columns and the server order each maps to.
const SORT_FIELD: Record<string, string> = { name: 'name', updated: 'update_time' };

function kindLabel(kind: AgentJson['kind']): string {
  return (kind ?? 'AGENT_KIND_UNSPECIFIED').replace('AGENT_KIND_', '').toLowerCase();
}

function storedView(): View {
  try {
    return localStorage.getItem(VIEW_KEY) === 'cards' ? 'cards' : 'table';
  } catch {
    return 'table';
  }
}

/** The server order as the table's sorting state, and back. */
export function sortingOf(orderBy: string): SortingState {
  const [field, dir] = orderBy.split(' ');
  const column = Object.entries(SORT_FIELD).find(([, f]) => f === field)?.[0];
  return column ? [{ id: column, desc: dir === 'desc' }] : [];
}

export function orderOf(sorting: SortingState): string {
  const s = sorting[0];
  const field = s ? SORT_FIELD[s.id] : undefined;
  return field ? `${field}${s?.desc ? ' desc' : ''}` : 'name';
}

function agentName(a: AgentJson): string {
  return a.displayName ?? a.name ?? a.id ?? '';
}

export function AgentsPage() {
  const role = useRole();
  const operate = canOperate(role);
  const scope = useScope();
  const [search, setSearch] = useSearchParams();
  const query = search.get('query') ?? '';
  const state = (search.get('state') ?? '') as AgentStateJson | '';
  const orderBy = search.get('order_by') ?? 'name';
  const viewParam = search.get('view');
  const [savedView, setSavedView] = useState<View>(storedView);
  const view: View = viewParam === 'cards' || viewParam === 'table' ? viewParam : savedView;
  // Tokens of the pages before this one, and this one's.
  const [pages, setPages] = useState<string[]>([]);
  const [draft, setDraft] = useState(query);
  const [selection, setSelection] = useState<RowSelectionState>({});
  // The action and the agents it was chosen for: the dialog keeps them while
  // the selection is cleared or the list changes underneath.
  const [bulk, setBulk] = useState<{ action: AgentActionName; agents: AgentJson[] } | undefined>();
  const [creating, setCreating] = useState(false);

  const params: ListAgentsParams = {
    pageSize: PAGE_SIZE,
    query: query || undefined,
    states: state ? [state] : undefined,
    labelSelector: scopeLabelSelector(scope),
    orderBy,
    pageToken: pages.at(-1),
  };
  // One agent in context: show that one, whatever page it would be on.
  const one = useQuery({ ...detailQuery(scope.kind === 'agent' ? scope.id : ''), enabled: scope.kind === 'agent' });
  const list = useQuery({ ...listQuery(params), placeholderData: keepPreviousData, enabled: scope.kind !== 'agent' });
  useAgentEvents('agents');

  const scopeKey = JSON.stringify(scope);
  const lastScope = useRef(scopeKey);
  useEffect(() => {
    // A new context is a new list: start from its first page, nothing selected.
    if (lastScope.current !== scopeKey) {
      lastScope.current = scopeKey;
      setPages([]);
      setSelection({});
    }
  }, [scopeKey]);

  const agents = useMemo(() => {
    if (scope.kind === 'agent') {
      const a = one.data?.agent;
      return a && (!state || a.state === state) ? [a] : [];
    }
    return (list.data?.agents ?? []).filter((a) => inScope(scope, a));
  }, [scope, one.data, list.data, state]);
  const pending = scope.kind === 'agent' ? one.isPending : list.isPending;
  const fetching = scope.kind === 'agent' ? one.isFetching : list.isFetching;
  const error = scope.kind === 'agent' ? one.error : list.error;
  const next = scope.kind === 'agent' ? undefined : list.data?.nextPageToken;
  const total = scope.kind === 'agent' ? agents.length : list.data?.totalSize;

  const update = (key: string, value: string) => {
    const nextParams = new URLSearchParams(search);
    if (value) {
      nextParams.set(key, value);
    } else {
      nextParams.delete(key);
    }
    setSearch(nextParams, { replace: true });
    if (key !== 'view') {
      setPages([]);
      setSelection({});
    }
  };
  const chooseView = (v: View) => {
    setSavedView(v);
    try {
      localStorage.setItem(VIEW_KEY, v);
    } catch {
      // The choice holds for this page.
    }
    update('view', v);
  };

  const columns = useMemo<ColumnDef<AgentJson>[]>(() => {
    const cols: ColumnDef<AgentJson>[] = [];
    if (operate) {
      cols.push({
        id: 'select',
        header: ({ table }) => (
          <input
            type="checkbox"
            aria-label="Select all agents on this page"
            checked={table.getIsAllRowsSelected()}
            ref={(el) => {
              if (el) {
                el.indeterminate = table.getIsSomeRowsSelected();
              }
            }}
            onChange={table.getToggleAllRowsSelectedHandler()}
          />
        ),
        cell: ({ row }) => (
          <input
            type="checkbox"
            aria-label={`Select ${agentName(row.original)}`}
            checked={row.getIsSelected()}
            onChange={row.getToggleSelectedHandler()}
          />
        ),
      });
    }
    cols.push(
      {
        id: 'name',
        header: 'Name',
        // Sorting is the server's (manualSorting); the accessors only mark the columns sortable.
        accessorFn: (a) => a.name,
        enableSorting: true,
        cell: ({ row }) => {
          const a = row.original;
          return (
            <>
              <Link to={`/agents/${a.id ?? ''}`} className="agent-link">
                {agentName(a)}
              </Link>
              {a.displayName && a.name && a.displayName !== a.name ? <div className="mono muted">{a.name}</div> : null}
            </>
          );
        },
      },
      { id: 'kind', header: 'Kind', enableSorting: false, cell: ({ row }) => kindLabel(row.original.kind) },
      {
        id: 'state',
        header: 'State',
        enableSorting: false,
        cell: ({ row }) => (
          <>
            <StatusBadge state={row.original.state} />
            {row.original.pendingOperation ? <span className="muted small"> (working…)</span> : null}
          </>
        ),
      },
      {
        id: 'version',
        header: 'Version',
        enableSorting: false,
        cell: ({ row }) => <span className="mono">{row.original.version}</span>,
      },
      { id: 'labels', header: 'Labels', enableSorting: false, cell: ({ row }) => <Labels labels={row.original.labels} /> },
      {
        id: 'updated',
        header: 'Updated',
        accessorFn: (a) => a.updateTime,
        enableSorting: true,
        cell: ({ row }) => formatTime(row.original.updateTime) },
      {
        id: 'actions',
        header: () => <span className="sr-only">Actions</span>,
        enableSorting: false,
        cell: ({ row }) => <AgentActionMenu agent={row.original} />,
      },
    );
    return cols;
  }, [operate]);

  // The table's functions are read in this render only (nothing memoized
  // holds them), which is what the React Compiler warning is about.
  // eslint-disable-next-line react-hooks/incompatible-library
  const table = useReactTable({
    data: agents,
    columns,
    getRowId: (a) => a.id ?? '',
    getCoreRowModel: getCoreRowModel(),
    enableRowSelection: operate,
    manualSorting: true,
    manualPagination: true,
    state: { rowSelection: selection, sorting: sortingOf(orderBy) },
    onRowSelectionChange: setSelection,
    onSortingChange: (updater) => {
      const nextSorting = typeof updater === 'function' ? updater(sortingOf(orderBy)) : updater;
      update('order_by', orderOf(nextSorting));
    },
  });
  const selected = agents.filter((a) => a.id && selection[a.id]);

  return (
    <section aria-labelledby="agents-title">
      <div className="page-head">
        <h1 id="agents-title" className="page-title">
          Agents
        </h1>
        {total !== undefined ? <span className="muted">{total} in all</span> : null}
        <div className="segmented" role="group" aria-label="View">
          {(['table', 'cards'] as const).map((v) => (
            <button
              key={v}
              type="button"
              className="segmented-item"
              aria-pressed={view === v}
              onClick={() => {
                chooseView(v);
              }}
            >
              {v === 'table' ? 'Table' : 'Cards'}
            </button>
          ))}
        </div>
        {operate ? (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            New agent
          </button>
        ) : null}
      </div>
      <ScopeNote what="agents" />
      <div className="toolbar" role="search">
        <form
          className="toolbar-search"
          onSubmit={(e) => {
            e.preventDefault();
            update('query', draft.trim());
          }}
        >
          <label className="sr-only" htmlFor="agent-search">
            Search agents
          </label>
          <input
            id="agent-search"
            className="input"
            type="search"
            placeholder="Search name, description…"
            maxLength={200}
            value={draft}
            onChange={(e) => {
              setDraft(e.target.value);
            }}
          />
          <button type="submit" className="button">
            Search
          </button>
        </form>
        <label className="field-inline">
          <span>State</span>
          <select
            className="input"
            value={state}
            onChange={(e) => {
              update('state', e.target.value);
            }}
          >
            <option value="">All states</option>
            {FILTER_STATES.map((s) => (
              <option key={s} value={s}>
                {stateInfo(s).label}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline">
          <span>Sort</span>
          <select
            className="input"
            value={orderBy}
            onChange={(e) => {
              update('order_by', e.target.value);
            }}
          >
            {ORDERS.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {operate && selected.length > 0 ? (
        <div className="bulk-bar" role="toolbar" aria-label="Bulk actions">
          <span className="bulk-count">
            {selected.length} selected
          </span>
          {BULK_ACTIONS.map((action) => {
            const n = applicableCount(selected, action);
            return n > 0 ? (
              <button
                key={action}
                type="button"
                className={action === 'revoke' ? 'button button-danger' : 'button'}
                onClick={() => {
                  setBulk({ action, agents: selected });
                }}
              >
                {actionLabel(action)} ({n})
              </button>
            ) : null;
          })}
          <button
            type="button"
            className="button-link"
            onClick={() => {
              setSelection({});
            }}
          >
            Clear selection
          </button>
        </div>
      ) : null}
      <ErrorMessage error={error} title="Cannot list agents" />
      {view === 'table' ? (
        <TableView table={table} label="Agents" pending={pending} fetching={fetching} empty="No agents match." loadingText="Loading agents…" />
      ) : (
        <AgentCards
          agents={agents}
          pending={pending}
          operate={operate}
          isSelected={(id) => selection[id] === true}
          onToggle={(id) => {
            setSelection((s) => (s[id] ? Object.fromEntries(Object.entries(s).filter(([k]) => k !== id)) : { ...s, [id]: true }));
          }}
        />
      )}
      {scope.kind !== 'agent' ? (
        <nav className="pager" aria-label="Pages">
          <button
            type="button"
            className="button"
            disabled={pages.length === 0}
            onClick={() => {
              setPages((p) => p.slice(0, -1));
              setSelection({});
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
                setPages((p) => [...p, next]);
                setSelection({});
              }
            }}
          >
            Next
          </button>
        </nav>
      ) : null}
      <CreateAgentDialog
        open={creating}
        onClose={() => {
          setCreating(false);
        }}
      />
      <BulkActionDialog
        agents={bulk?.agents ?? []}
        action={bulk?.action}
        onClose={() => {
          setBulk(undefined);
        }}
        onFinished={() => {
          setSelection({});
        }}
      />
    </section>
  );
}

function AgentCards({
  agents,
  pending,
  operate,
  isSelected,
  onToggle,
}: {
  agents: AgentJson[];
  pending: boolean;
  operate: boolean;
  isSelected: (id: string) => boolean;
  onToggle: (id: string) => void;
}) {
  if (pending) {
    return <p className="muted">Loading agents…</p>;
  }
  if (agents.length === 0) {
    return <p className="muted">No agents match.</p>;
  }
  return (
    <ul className="agent-cards" aria-label="Agents">
      {agents.map((a) => {
        const id = a.id ?? '';
        return (
          <li key={id} className="card agent-card" data-agent-id={id} data-selected={isSelected(id)}>
            <div className="agent-card-head">
              {operate ? (
                <input
                  type="checkbox"
                  aria-label={`Select ${agentName(a)}`}
                  checked={isSelected(id)}
                  onChange={() => {
                    onToggle(id);
                  }}
                />
              ) : null}
              <Link to={`/agents/${id}`} className="agent-link agent-card-name">
                {agentName(a)}
              </Link>
              <AgentActionMenu agent={a} />
            </div>
            {a.displayName && a.name && a.displayName !== a.name ? <div className="mono muted small">{a.name}</div> : null}
            <div>
              <StatusBadge state={a.state} />
              {a.pendingOperation ? <span className="muted small"> (working…)</span> : null}
            </div>
            <dl className="agent-card-facts">
              <dt>Kind</dt>
              <dd>{kindLabel(a.kind)}</dd>
              <dt>Version</dt>
              <dd className="mono">{orElse(a.version, '—')}</dd>
              <dt>Owner</dt>
              <dd>{orElse(a.owner, '—')}</dd>
              <dt>Updated</dt>
              <dd>{formatTime(a.updateTime)}</dd>
            </dl>
            <Labels labels={a.labels} />
          </li>
        );
      })}
    </ul>
  );
}

export function Labels({ labels }: { labels: AgentJson['labels'] }) {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) {
    return <span className="muted">—</span>;
  }
  return (
    <span className="labels">
      {entries.map(([k, v]) => (
        <span key={k} className="label-chip mono">
          {k}={v}
        </span>
      ))}
    </span>
  );
}
