import { act, cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocketLike } from '../../api/ws';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { mockFetch, renderWith } from '../../test/render';
import { appendLines, atLeastLevel, LogTail } from './LogTail';

afterEach(cleanup);

const stub = (fn: (url: string, init?: RequestInit) => Promise<Response>) => vi.stubGlobal('fetch', vi.fn(fn));

class FakeSocket implements WebSocketLike {
  static last: FakeSocket | undefined;
  readyState = 0;
  sent: string[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  frame(v: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(v) }));
  }
}

const agent: AgentJson = { id: 'a1', name: 'memory-1', state: 'AGENT_STATE_RUNNING' };
const line = (time: string, message: string, level = 'info') => ({ agentId: 'a1', instance: '0', time, level, message });

describe('log helpers', () => {
  it('merges without duplicates, in time order, keeping the newest', () => {
    const a = line('2026-01-01T00:00:01Z', 'one');
    const b = line('2026-01-01T00:00:02Z', 'two');
    const c = line('2026-01-01T00:00:03Z', 'three');
    expect(appendLines([a, b], [b, c]).map((l) => l.message)).toEqual(['one', 'two', 'three']);
    expect(appendLines([c], [a]).map((l) => l.message)).toEqual(['one', 'three']);
    expect(appendLines([a, b], [c], 2).map((l) => l.message)).toEqual(['two', 'three']);
  });

  it.each([
    ['debug', 'debug', true],
    ['info', 'warn', false],
    ['error', 'warn', true],
    ['', 'info', true],
    ['weird', 'warn', false],
  ] as const)('a %s line at minimum %s: %s', (level, min, want) => {
    expect(atLeastLevel({ level }, min)).toBe(want);
  });
});

describe('LogTail', () => {
  it('shows the REST tail, then follows /ws/logs for the agent, filtered by level', async () => {
    mockFetch(
      { 'GET /api/v1/agents/a1/logs': () => [200, { lines: [line('2026-01-01T00:00:01Z', 'booted')] }] },
      stub,
    );
    renderWith(<LogTail agent={agent} socket={FakeSocket} />);
    const box = screen.getByTestId('log-lines');
    await waitFor(() => {
      expect(box.textContent).toContain('booted');
    });
    const ws = FakeSocket.last;
    expect(ws?.url).toMatch(/\/ws\/logs$/);
    act(() => {
      ws?.open();
    });
    expect(ws?.sent.map((s) => JSON.parse(s) as unknown)).toContainEqual({ type: 'subscribe', topics: ['agents/a1'] });
    expect(screen.getByRole('status').textContent).toBe('following live');
    act(() => {
      ws?.frame({ type: 'event', seq: 5, subject: 'agents/a1', eventType: 'x', data: line('2026-01-01T00:00:02Z', 'disk almost full', 'warn') });
      ws?.frame({ type: 'event', seq: 6, subject: 'agents/a1', eventType: 'x', data: line('2026-01-01T00:00:03Z', 'tick', 'debug') });
    });
    expect(box.textContent).toContain('disk almost full');
    expect(box.textContent).toContain('tick');
    fireEvent.change(screen.getByLabelText('Level'), { target: { value: 'warn' } });
    expect(box.textContent).toContain('disk almost full');
    expect(box.textContent).not.toContain('tick');
    expect(box.textContent).not.toContain('booted');
  });

  it('asks for nothing while the agent is a draft', () => {
    const calls = mockFetch({}, stub);
    FakeSocket.last = undefined;
    renderWith(<LogTail agent={{ ...agent, state: 'AGENT_STATE_DRAFT' }} socket={FakeSocket} />);
    expect(screen.getByTestId('log-lines').textContent).toBe('No workload yet: provision the agent to run it.');
    expect(calls).toHaveLength(0);
    expect(FakeSocket.last).toBeUndefined();
  });
});
