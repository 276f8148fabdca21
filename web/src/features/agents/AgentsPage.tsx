import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { ListAgentsParams } from '../../api/agents';
import type { AgentJson, AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { formatTime } from '../../ui/format';
import { AgentActionMenu } from './AgentActionMenu';
import { listQuery, useAgentEvents } from './queries';
import { StatusBadge } from './StatusBadge';
import { FILTER_STATES, stateInfo } from './states';

const PAGE_SIZE = 25;

const ORDERS: { value: string; label: string }[] = [
  { value: 'name', label: 'Name (A–Z)' },
  { value: 'name desc', label: 'Name (Z–A)' },
  { value: 'update_time desc', label: 'Recently updated' },
  { value: 'create_time desc', label: 'Newest' },
  { value: 'create_time', label: 'Oldest' },
];

function kindLabel(kind: AgentJson['kind']): string {
  return (kind ?? 'AGENT_KIND_UNSPECIFIED').replace('AGENT_KIND_', '').toLowerCase();
}

export function AgentsPage() {
  const [search, setSearch] = useSearchParams();
  const query = search.get('query') ?? '';
  const state = (search.get('state') ?? '') as AgentStateJson | '';
  const orderBy = search.get('order_by') ?? 'name';
  // Tokens of the pages before this one, and this one's.
  const [pages, setPages] = useState<string[]>([]);
  const [draft, setDraft] = useState(query);

  const params: ListAgentsParams = {
    pageSize: PAGE_SIZE,
    query: query || undefined,
    states: state ? [state] : undefined,
    orderBy,
    pageToken: pages.at(-1),
  };
  const list = useQuery({ ...listQuery(params), placeholderData: keepPreviousData });
  useAgentEvents('agents');

  const update = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) {
      next.set(key, value);
    } else {
      next.delete(key);
    }
    setSearch(next, { replace: true });
    setPages([]);
  };

  const agents = list.data?.agents ?? [];
  const next = list.data?.nextPageToken;
  return (
    <section aria-labelledby="agents-title">
      <div className="page-head">
        <h1 id="agents-title" className="page-title">
          Agents
        </h1>
        {list.data?.totalSize !== undefined ? (
          <span className="muted">{list.data.totalSize} in all</span>
        ) : null}
      </div>
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
      <ErrorMessage error={list.error} title="Cannot list agents" />
      {/* Focusable, so a keyboard can scroll it sideways on a phone. */}
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Agents">
        <table className="table" aria-busy={list.isFetching}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">State</th>
              <th scope="col">Version</th>
              <th scope="col">Labels</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.isPending ? (
              <tr>
                <td colSpan={7} className="muted">
                  Loading agents…
                </td>
              </tr>
            ) : agents.length === 0 ? (
              <tr>
                <td colSpan={7} className="muted">
                  No agents match.
                </td>
              </tr>
            ) : (
              agents.map((a) => (
                <tr key={a.id} data-agent-id={a.id}>
                  <td>
                    <Link to={`/agents/${a.id ?? ''}`} className="agent-link">
                      {a.displayName ?? a.name}
                    </Link>
                    {a.displayName && a.name && a.displayName !== a.name ? <div className="mono muted">{a.name}</div> : null}
                  </td>
                  <td>{kindLabel(a.kind)}</td>
                  <td>
                    <StatusBadge state={a.state} />
                    {a.pendingOperation ? <span className="muted small"> (working…)</span> : null}
                  </td>
                  <td className="mono">{a.version}</td>
                  <td>
                    <Labels labels={a.labels} />
                  </td>
                  <td>{formatTime(a.updateTime)}</td>
                  <td className="cell-actions">
                    <AgentActionMenu agent={a} />
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages">
        <button
          type="button"
          className="button"
          disabled={pages.length === 0}
          onClick={() => {
            setPages((p) => p.slice(0, -1));
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
            }
          }}
        >
          Next
        </button>
      </nav>
    </section>
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
