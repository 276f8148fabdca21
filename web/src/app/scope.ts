// The global context ("scope"): the one agent or the one customer the
// operator is looking at, chosen in the header's context selector, kept in
// localStorage (portal-scope) and followed across tabs. Every page narrows
// what it shows by it: agent lists by label or id, events and audit entries
// by the agents they concern.
//
// A customer is an agent label, customer=<name>: agents carry it like any
// other label (the Kubernetes convention), so a customer needs no table of
// its own and the agents service can select by it (label_selector).
import { useSyncExternalStore } from 'react';
import type { AgentJson } from '../gen/portal/agents/v1/agents_pb';

export const SCOPE_KEY = 'portal-scope';
export const CUSTOMER_LABEL = 'customer';

export type Scope =
  | { kind: 'all' }
  | { kind: 'agent'; id: string; name: string }
  | { kind: 'customer'; customer: string };

const ALL: Scope = { kind: 'all' };
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** parseScope reads a stored scope; anything malformed is "all". */
export function parseScope(raw: string | null): Scope {
  if (!raw) {
    return ALL;
  }
  try {
    const v = JSON.parse(raw) as Partial<{ kind: string; id: string; name: string; customer: string }>;
    if (v.kind === 'agent' && typeof v.id === 'string' && UUID.test(v.id)) {
      return { kind: 'agent', id: v.id, name: typeof v.name === 'string' ? v.name.slice(0, 200) : v.id };
    }
    if (v.kind === 'customer' && typeof v.customer === 'string' && v.customer.length <= 63 && LABEL_VALUE.test(v.customer)) {
      return { kind: 'customer', customer: v.customer };
    }
  } catch {
    // fall through
  }
  return ALL;
}

function read(): Scope {
  try {
    return parseScope(localStorage.getItem(SCOPE_KEY));
  } catch {
    return ALL;
  }
}

let current: Scope = read();
let currentRaw = JSON.stringify(current);
const listeners = new Set<() => void>();

function notify(): void {
  for (const l of [...listeners]) {
    l();
  }
}

export function getScope(): Scope {
  return current;
}

/** setScope chooses the scope for this tab and every other. */
export function setScope(s: Scope): void {
  const raw = JSON.stringify(s);
  if (raw === currentRaw) {
    return;
  }
  current = s;
  currentRaw = raw;
  try {
    if (s.kind === 'all') {
      localStorage.removeItem(SCOPE_KEY);
    } else {
      localStorage.setItem(SCOPE_KEY, raw);
    }
  } catch {
    // Storage full or blocked: the scope holds for this tab.
  }
  notify();
}

export function subscribeScope(listener: () => void): () => void {
  if (listeners.size === 0) {
    window.addEventListener('storage', onStorage);
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      window.removeEventListener('storage', onStorage);
    }
  };
}

// Another tab chose a scope.
function onStorage(e: StorageEvent): void {
  if (e.key !== SCOPE_KEY && e.key !== null) {
    return;
  }
  const next = read();
  const raw = JSON.stringify(next);
  if (raw !== currentRaw) {
    current = next;
    currentRaw = raw;
    notify();
  }
}

/** useScope is the current scope, re-rendering when it changes (here or in another tab). */
export function useScope(): Scope {
  return useSyncExternalStore(subscribeScope, getScope);
}

/** scopeLabelSelector is the label selector that narrows an agent list to the scope. */
export function scopeLabelSelector(s: Scope): string | undefined {
  return s.kind === 'customer' ? `${CUSTOMER_LABEL}=${s.customer}` : undefined;
}

/** inScope reports whether an agent belongs to the scope. */
export function inScope(s: Scope, agent: Pick<AgentJson, 'id' | 'labels'>): boolean {
  switch (s.kind) {
    case 'all':
      return true;
    case 'agent':
      return agent.id === s.id;
    case 'customer':
      return agent.labels?.[CUSTOMER_LABEL] === s.customer;
  }
}

/** scopeLabel names the scope for people. */
export function scopeLabel(s: Scope): string {
  switch (s.kind) {
    case 'all':
      return 'All agents';
    case 'agent':
      return `Agent ${s.name}`;
    case 'customer':
      return `Customer ${s.customer}`;
  }
}

/** Test hook: forget the in-memory scope and re-read storage. */
export function resetScopeForTest(): void {
  current = read();
  currentRaw = JSON.stringify(current);
  notify();
}
