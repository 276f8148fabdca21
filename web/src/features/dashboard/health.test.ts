import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchReadiness, healthOf } from './health';

const ok = { status: 'ok', checks: { agents: 'ok', nats: 'ok' } };

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('healthOf', () => {
  it('is all operational when the stream is live, the platform ready and no agent in error', () => {
    expect(healthOf({ connection: 'open', readiness: ok, inError: 0 })).toEqual({
      tone: 'success',
      text: 'All systems operational',
    });
  });

  it('counts the agents in error', () => {
    expect(healthOf({ connection: 'open', readiness: ok, inError: 2 })).toEqual({
      tone: 'error',
      text: 'Degraded: 2 agents in error',
    });
    expect(healthOf({ connection: 'open', readiness: ok, inError: 1 }).text).toBe('Degraded: 1 agent in error');
  });

  it('names the failing checks of /readyz', () => {
    const h = healthOf({
      connection: 'open',
      readiness: { status: 'unavailable', checks: { agents: 'ok', provisioning: 'unreachable: refused', nats: 'disconnected: CLOSED' } },
      inError: 1,
    });
    expect(h).toEqual({
      tone: 'error',
      text: 'Degraded: nats disconnected: CLOSED; provisioning unreachable: refused; 1 agent in error',
    });
    expect(healthOf({ connection: 'open', readiness: { status: 'unavailable', checks: {} }, inError: 0 }).text).toBe(
      'Degraded: platform unavailable',
    );
  });

  it('warns that figures may be stale while the stream reconnects, most serious first', () => {
    expect(healthOf({ connection: 'reconnecting', readiness: ok, inError: 0 })).toEqual({
      tone: 'warning',
      text: 'Event stream reconnecting — figures may be stale',
    });
    expect(healthOf({ connection: 'reconnecting', readiness: ok, inError: 3 })).toEqual({
      tone: 'error',
      text: 'Degraded: 3 agents in error · Event stream reconnecting — figures may be stale',
    });
  });

  it('says what it is still waiting for', () => {
    expect(healthOf({ connection: 'connecting', readiness: ok, inError: 0 })).toEqual({
      tone: 'info',
      text: 'Connecting to the event stream… · All systems operational',
    });
    expect(healthOf({ connection: 'open', inError: 0 })).toEqual({ tone: 'info', text: 'Checking the platform’s health…' });
    expect(healthOf({ connection: 'open', readiness: ok })).toEqual({ tone: 'info', text: 'Counting the agents…' });
  });

  it('says when the agents cannot be counted', () => {
    expect(healthOf({ connection: 'open', readiness: ok, agentsError: new Error('not found') })).toEqual({
      tone: 'warning',
      text: 'Cannot count the agents in error: not found',
    });
  });

  it('says when the health cannot be read', () => {
    expect(healthOf({ connection: 'open', readinessError: new Error('cannot reach the portal'), inError: 0 })).toEqual({
      tone: 'warning',
      text: 'Cannot check the platform’s health: cannot reach the portal',
    });
  });
});

describe('fetchReadiness', () => {
  const answer = (status: number, body: string) =>
    vi.stubGlobal('fetch', vi.fn(() => Promise.resolve(new Response(body, { status }))));

  it('reads the checks of a ready and of an unavailable platform (503 is an answer here)', async () => {
    answer(200, JSON.stringify(ok));
    await expect(fetchReadiness()).resolves.toEqual(ok);
    answer(503, JSON.stringify({ status: 'unavailable', checks: { agents: 'unreachable', x: 3 } }));
    await expect(fetchReadiness()).resolves.toEqual({ status: 'unavailable', checks: { agents: 'unreachable' } });
  });

  it('fails with an ApiError for anything else', async () => {
    answer(502, '<html>bad gateway</html>');
    await expect(fetchReadiness()).rejects.toMatchObject({ name: 'ApiError', status: 502 });
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(fetchReadiness()).rejects.toMatchObject({ status: 0, message: 'cannot reach the portal: Failed to fetch' });
  });
});
