import { describe, expect, it } from 'vitest';
import {
  agentOfResource,
  b64ToHex,
  EMPTY_FILTERS,
  exportRange,
  filtersFromParams,
  filtersToParams,
  localInputToRFC3339,
  MAX_EXPORT_MS,
  nonEmpty,
  normalizeAction,
  outcomeTone,
  rfc3339ToLocalInput,
  scopeResource,
  searchParamsOf,
} from './model';

const ID = '01a2052c-b245-72f3-97b9-7ca366ee7b8f';

describe('URL <-> filters', () => {
  it('reads every field and writes back only the non-empty ones, trimmed', () => {
    const f = filtersFromParams(new URLSearchParams('actor=dev%3Aolga%40x&outcome=denied&from=2026-01-01T00%3A00%3A00Z&junk=1'));
    expect(f).toEqual({ ...EMPTY_FILTERS, actor: 'dev:olga@x', outcome: 'denied', from: '2026-01-01T00:00:00Z' });
    expect(filtersToParams({ ...f, q: '  word ', resource: ' ' }).toString()).toBe(
      'actor=dev%3Aolga%40x&outcome=denied&from=2026-01-01T00%3A00%3A00Z&q=word',
    );
    expect(filtersToParams(EMPTY_FILTERS).toString()).toBe('');
  });
});

describe('time conversion', () => {
  it('datetime-local (local time) to RFC 3339 in UTC and back', () => {
    const rfc = localInputToRFC3339('2026-03-04T05:06');
    expect(rfc).toBe(new Date(2026, 2, 4, 5, 6).toISOString().replace('.000Z', 'Z'));
    expect(rfc3339ToLocalInput(rfc ?? '')).toBe('2026-03-04T05:06');
    expect(rfc3339ToLocalInput(localInputToRFC3339('2026-03-04T05:06:07') ?? '')).toBe('2026-03-04T05:06:07');
  });

  it('empty or malformed values give nothing', () => {
    expect(localInputToRFC3339('')).toBeUndefined();
    expect(localInputToRFC3339('yesterday')).toBeUndefined();
    expect(localInputToRFC3339('2026-13-45T99:99')).toBeUndefined();
    expect(rfc3339ToLocalInput('')).toBe('');
    expect(rfc3339ToLocalInput('garbage')).toBe('');
  });
});

describe('the search request', () => {
  it('sends the fields, completes a short action and applies the scope prefix only when no resource is given', () => {
    const f = { ...EMPTY_FILTERS, actor: 'token:e2e', action: 'AgentStateChanged', from: '2026-01-01T00:00:00Z' };
    expect(searchParamsOf(f, undefined)).toEqual({
      actor: 'token:e2e',
      action: 'portal.agents.v1.AgentStateChanged',
      resource: undefined,
      outcome: undefined,
      startTime: '2026-01-01T00:00:00Z',
      endTime: undefined,
      query: undefined,
    });
    expect(searchParamsOf(f, `agents/${ID}`).resource).toBe(`agents/${ID}`);
    expect(searchParamsOf({ ...f, resource: 'tokens/' }, `agents/${ID}`).resource).toBe('tokens/');
  });

  it('normalizeAction leaves full and unknown names alone', () => {
    expect(normalizeAction('LoggedIn')).toBe('portal.identity.v1.LoggedIn');
    expect(normalizeAction('portal.x.v1.Thing')).toBe('portal.x.v1.Thing');
    expect(normalizeAction('Unknown')).toBe('Unknown');
    expect(normalizeAction('  ')).toBe('');
  });

  it('the scope gives a resource prefix for an agent only', () => {
    expect(scopeResource({ kind: 'agent', id: ID, name: 'x' })).toBe(`agents/${ID}`);
    expect(scopeResource({ kind: 'customer', customer: 'acme' })).toBeUndefined();
    expect(scopeResource({ kind: 'all' })).toBeUndefined();
  });
});

describe('exportRange', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  it('fills an open range: the last year up to a day ahead, within 366 days', () => {
    const r = exportRange(EMPTY_FILTERS, now);
    expect(r.end).toBe('2026-06-02T12:00:00Z');
    expect(Date.parse(r.end) - Date.parse(r.start)).toBe(MAX_EXPORT_MS);
    expect(r.problem).toBeUndefined();
  });

  it('keeps a searched range, and bounds one open end', () => {
    expect(exportRange({ ...EMPTY_FILTERS, from: '2026-05-01T00:00:00Z', to: '2026-05-02T00:00:00Z' }, now)).toEqual({
      start: '2026-05-01T00:00:00Z',
      end: '2026-05-02T00:00:00Z',
    });
    expect(exportRange({ ...EMPTY_FILTERS, from: '2026-05-01T00:00:00Z' }, now).end).toBe('2026-06-02T12:00:00Z');
    expect(exportRange({ ...EMPTY_FILTERS, from: '2020-01-01T00:00:00Z' }, now).end).toBe('2021-01-01T00:00:00Z');
    const r = exportRange({ ...EMPTY_FILTERS, to: '2026-05-02T00:00:00Z' }, now);
    expect(Date.parse(r.end) - Date.parse(r.start)).toBe(MAX_EXPORT_MS);
  });

  it('says what the server would refuse', () => {
    expect(exportRange({ ...EMPTY_FILTERS, from: '2026-05-02T00:00:00Z', to: '2026-05-01T00:00:00Z' }, now).problem).toMatch(
      /after/,
    );
    expect(exportRange({ ...EMPTY_FILTERS, from: '2024-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, now).problem).toMatch(
      /366 days/,
    );
  });
});

describe('display helpers', () => {
  it('b64ToHex shows protojson bytes as the export does', () => {
    expect(b64ToHex('AAEC/w==')).toBe('000102ff');
    expect(b64ToHex('tva/xlikixGrBKHC+fp2GBfLXd85M0IJ4vW5V/RAKXw=')).toHaveLength(64);
    expect(b64ToHex(undefined)).toBe('');
    expect(b64ToHex('%%%')).toBe('%%%');
  });

  it('outcome tones, agent resources and empty strings', () => {
    expect(['success', 'denied', 'failure', 'odd', undefined].map(outcomeTone)).toEqual([
      'success',
      'warning',
      'error',
      'unknown',
      'unknown',
    ]);
    expect(agentOfResource(`agents/${ID}`)).toBe(ID);
    expect(agentOfResource('agents/')).toBeUndefined();
    expect(agentOfResource('tokens/1')).toBeUndefined();
    expect(nonEmpty('')).toBeUndefined();
    expect(nonEmpty('x')).toBe('x');
  });
});
