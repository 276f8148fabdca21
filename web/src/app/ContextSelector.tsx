// The global context selector in the header: which agent or customer every
// page narrows to (app/scope.ts keeps it, in localStorage and across tabs).
// A Radix popover (non-modal, so no scroll lock and no <style> injected,
// which the CSP would refuse) holding cmdk's command list (not its Dialog,
// which is modal): type to search, arrows to move, Enter to choose, Escape
// to close with the focus back on the trigger.
import * as DropdownMenu from '@radix-ui/react-dropdown-menu';
import * as Popover from '@radix-ui/react-popover';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Command } from 'cmdk';
import { useEffect, useMemo, useState } from 'react';
import { useNavigate } from 'react-router';
import { CUSTOMER_LABEL, scopeLabel, setScope, useScope, type Scope } from './scope';
import { listQuery } from '../features/agents/queries';
import { stateInfo } from '../features/agents/states';
import { orElse } from '../ui/format';
import '../ui/components.css';

/** How many agents a search shows. */
export const AGENT_RESULTS = 20;
/** The agents read to find the customers (the most one page holds). */
export const CUSTOMER_SCAN = 500;

const SEARCH_DEBOUNCE_MS = 200;

/** The distinct customers (labels.customer) among agents, sorted, with their agent counts. */
export function customersOf(agents: readonly { labels?: Record<string, string> }[]): { name: string; agents: number }[] {
  const counts = new Map<string, number>();
  for (const a of agents) {
    const c = a.labels?.[CUSTOMER_LABEL];
    if (c) {
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
  }
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, n]) => ({ name, agents: n }));
}

/** The trigger's short text: the agent's or customer's name, or "All agents". */
function shortLabel(s: Scope): string {
  switch (s.kind) {
    case 'all':
      return 'All agents';
    case 'agent':
      return s.name;
    case 'customer':
      return s.customer;
  }
}

const PREFIX: Record<Scope['kind'], string> = { all: 'Context', agent: 'Agent', customer: 'Customer' };

function sameScope(a: Scope, b: Scope): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function ContextSelector() {
  const scope = useScope();
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState('');
  // One request per pause in typing, not per key.
  useEffect(() => {
    const t = setTimeout(() => {
      setQuery(search.trim());
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      clearTimeout(t);
    };
  }, [search]);

  // Read only while the list is open: the header renders on every page.
  const agents = useQuery({
    ...listQuery({ pageSize: AGENT_RESULTS, query: query || undefined, orderBy: 'name' }),
    enabled: open,
    placeholderData: keepPreviousData,
  });
  const scan = useQuery({ ...listQuery({ pageSize: CUSTOMER_SCAN, orderBy: 'name' }), enabled: open });
  const needle = search.trim().toLowerCase();
  const customers = useMemo(
    () => customersOf(scan.data?.agents ?? []).filter((c) => c.name.toLowerCase().includes(needle)),
    [scan.data, needle],
  );
  const agentList = agents.data?.agents ?? [];
  const searching = agents.isFetching || scan.isFetching;
  const nothingFound = !searching && agents.data && needle !== '' && agentList.length === 0 && customers.length === 0;

  const choose = (s: Scope) => {
    setScope(s);
    setOpen(false);
    setSearch('');
  };

  const current = (s: Scope) =>
    sameScope(s, scope) ? (
      <span className="ctx-item-hint">
        ✓<span className="sr-only"> (current)</span>
      </span>
    ) : null;

  const label = scopeLabel(scope);
  return (
    <div className="ctx">
      <Popover.Root
        open={open}
        onOpenChange={(o) => {
          setOpen(o);
          if (!o) {
            setSearch('');
          }
        }}
      >
        <Popover.Trigger className="button ctx-trigger" aria-label={`Context: ${label}`} data-scoped={scope.kind !== 'all'}>
          <span className="ctx-icon" aria-hidden="true">
            ◎
          </span>
          <span className="ctx-trigger-prefix">{PREFIX[scope.kind]}:</span>
          <span className="ctx-trigger-label">{shortLabel(scope)}</span>
          <span className="ctx-caret" aria-hidden="true">
            ▾
          </span>
        </Popover.Trigger>
        <Popover.Portal>
          <Popover.Content
            className="ctx-popover"
            aria-label="Choose the context"
            align="start"
            sideOffset={4}
            collisionPadding={8}
          >
            {/* cmdk names its input by this label (aria-labelledby). */}
            <Command label="Search agents and customers" shouldFilter={false} loop>
              <Command.Input
                className="ctx-input"
                value={search}
                onValueChange={setSearch}
                placeholder="Search agents and customers…"
              />
              <Command.List className="ctx-list" label="Contexts">
                <Command.Item
                  className="ctx-item"
                  value="all"
                  onSelect={() => {
                    choose({ kind: 'all' });
                  }}
                >
                  <span className="ctx-item-name">All agents</span>
                  {current({ kind: 'all' })}
                </Command.Item>
                {customers.length > 0 ? (
                  <Command.Group heading="Customers">
                    {customers.map((c) => (
                      <Command.Item
                        key={c.name}
                        className="ctx-item"
                        value={`customer:${c.name}`}
                        onSelect={() => {
                          choose({ kind: 'customer', customer: c.name });
                        }}
                      >
                        <span className="ctx-item-name">Customer {c.name}</span>
                        {current({ kind: 'customer', customer: c.name }) ?? (
                          <span className="ctx-item-hint">
                            {c.agents} {c.agents === 1 ? 'agent' : 'agents'}
                          </span>
                        )}
                      </Command.Item>
                    ))}
                  </Command.Group>
                ) : null}
                {agentList.length > 0 ? (
                  <Command.Group heading="Agents">
                    {agentList.map((a) => {
                      const name = orElse(a.displayName, orElse(a.name, a.id ?? ''));
                      const s: Scope = { kind: 'agent', id: a.id ?? '', name: a.name ?? name };
                      return (
                        <Command.Item
                          key={a.id}
                          className="ctx-item"
                          value={`agent:${a.id ?? ''}`}
                          onSelect={() => {
                            choose(s);
                          }}
                        >
                          <span className="ctx-item-name">{name}</span>
                          {current(s) ?? <span className="ctx-item-hint">{stateInfo(a.state).label}</span>}
                        </Command.Item>
                      );
                    })}
                  </Command.Group>
                ) : null}
                {searching ? <div className="ctx-note">Searching…</div> : null}
                {agents.error || scan.error ? (
                  <div className="ctx-note ctx-note-error" role="alert">
                    Cannot list agents: {(agents.error ?? scan.error)?.message}
                  </div>
                ) : null}
                {nothingFound ? (
                  <div className="ctx-note">No agent or customer matches “{search.trim()}”.</div>
                ) : null}
              </Command.List>
            </Command>
          </Popover.Content>
        </Popover.Portal>
      </Popover.Root>
      {scope.kind === 'agent' ? <AgentQuickActions id={scope.id} name={scope.name} /> : null}
      {scope.kind === 'customer' ? (
        <button
          type="button"
          className="button button-icon"
          aria-label="Clear context"
          title="Clear context"
          onClick={() => {
            setScope({ kind: 'all' });
          }}
        >
          ×
        </button>
      ) : null}
    </div>
  );
}

/** The chosen agent's shortcuts. Non-modal, like every menu here (no injected <style>). */
function AgentQuickActions({ id, name }: { id: string; name: string }) {
  const navigate = useNavigate();
  const path = `/agents/${encodeURIComponent(id)}`;
  return (
    <DropdownMenu.Root modal={false}>
      <DropdownMenu.Trigger className="button button-icon" aria-label={`Quick actions for ${name}`}>
        ⋯
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content className="menu" align="end" sideOffset={4}>
          <DropdownMenu.Item
            className="menu-item"
            onSelect={() => {
              void navigate(path);
            }}
          >
            Open agent
          </DropdownMenu.Item>
          <DropdownMenu.Item
            className="menu-item"
            onSelect={() => {
              void navigate(`${path}#logs`);
            }}
          >
            View logs
          </DropdownMenu.Item>
          <DropdownMenu.Item
            className="menu-item"
            onSelect={() => {
              setScope({ kind: 'all' });
            }}
          >
            Clear context
          </DropdownMenu.Item>
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}
