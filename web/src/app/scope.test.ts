import { act, renderHook } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import {
  getScope,
  inScope,
  parseScope,
  resetScopeForTest,
  SCOPE_KEY,
  scopeLabel,
  scopeLabelSelector,
  setScope,
  useScope,
} from './scope';

const ID = '0b0e2c8e-5a6f-4f0e-9d1a-2f7c3b9a1e55';

afterEach(() => {
  localStorage.clear();
  resetScopeForTest();
});

describe('parseScope', () => {
  it.each([
    [null, { kind: 'all' }],
    ['', { kind: 'all' }],
    ['not json', { kind: 'all' }],
    ['{"kind":"agent","id":"nope","name":"x"}', { kind: 'all' }],
    [`{"kind":"agent","id":"${ID}","name":"memory-1"}`, { kind: 'agent', id: ID, name: 'memory-1' }],
    ['{"kind":"customer","customer":"acme"}', { kind: 'customer', customer: 'acme' }],
    ['{"kind":"customer","customer":"a,b=c"}', { kind: 'all' }],
    ['{"kind":"customer","customer":"-bad"}', { kind: 'all' }],
  ])('reads %j as %j', (raw, want) => {
    expect(parseScope(raw)).toEqual(want);
  });
});

describe('the scope store', () => {
  it('persists the choice and clears the key for "all"', () => {
    setScope({ kind: 'customer', customer: 'acme' });
    expect(JSON.parse(localStorage.getItem(SCOPE_KEY) ?? '')).toEqual({ kind: 'customer', customer: 'acme' });
    setScope({ kind: 'all' });
    expect(localStorage.getItem(SCOPE_KEY)).toBeNull();
  });

  it('follows another tab through the storage event', () => {
    const { result } = renderHook(() => useScope());
    expect(result.current).toEqual({ kind: 'all' });
    act(() => {
      localStorage.setItem(SCOPE_KEY, JSON.stringify({ kind: 'customer', customer: 'globex' }));
      window.dispatchEvent(new StorageEvent('storage', { key: SCOPE_KEY }));
    });
    expect(result.current).toEqual({ kind: 'customer', customer: 'globex' });
    expect(getScope()).toEqual({ kind: 'customer', customer: 'globex' });
  });

  it('re-renders its readers when this tab chooses', () => {
    const { result } = renderHook(() => useScope());
    act(() => {
      setScope({ kind: 'agent', id: ID, name: 'memory-1' });
    });
    expect(result.current).toEqual({ kind: 'agent', id: ID, name: 'memory-1' });
  });
});

describe('applying the scope', () => {
  const agent = { id: ID, labels: { customer: 'acme' } };
  it.each([
    [{ kind: 'all' } as const, true, undefined, 'All agents'],
    [{ kind: 'agent', id: ID, name: 'm' } as const, true, undefined, 'Agent m'],
    [{ kind: 'agent', id: 'other', name: 'o' } as const, false, undefined, 'Agent o'],
    [{ kind: 'customer', customer: 'acme' } as const, true, 'customer=acme', 'Customer acme'],
    [{ kind: 'customer', customer: 'globex' } as const, false, 'customer=globex', 'Customer globex'],
  ])('%j: in scope %s, selector %s, named %s', (scope, inside, selector, label) => {
    expect(inScope(scope, agent)).toBe(inside);
    expect(scopeLabelSelector(scope)).toBe(selector);
    expect(scopeLabel(scope)).toBe(label);
  });
});
