import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatRelative } from './format';
import { formatDuration, Timeline, type TimelineItem } from './Timeline';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

const NOW = Date.parse('2025-06-01T12:00:00Z');

describe('formatRelative', () => {
  it('says how long ago, in the largest sensible unit', () => {
    expect(formatRelative(NOW - 10_000, NOW)).toBe('just now');
    expect(formatRelative(NOW - 3 * 60_000, NOW)).toBe('3 min ago');
    expect(formatRelative(NOW - 50_000, NOW)).toBe('1 min ago');
    expect(formatRelative(NOW - 2 * 3_600_000, NOW)).toBe('2 h ago');
    expect(formatRelative(NOW - 26 * 3_600_000, NOW)).toBe('1 day ago');
    expect(formatRelative(NOW - 5 * 86_400_000, NOW)).toBe('5 days ago');
    expect(formatRelative('2025-06-01T11:30:00Z', NOW)).toBe('30 min ago');
  });

  it('handles the future and nonsense', () => {
    expect(formatRelative(NOW + 5 * 60_000, NOW)).toBe('in 5 min');
    expect(formatRelative('not a time', NOW)).toBe('at an unknown time');
  });
});

describe('formatDuration', () => {
  it('is short', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(3 * 60_000)).toBe('3 min');
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe('2 h 5 min');
    expect(formatDuration(3_600_000)).toBe('1 h');
    expect(formatDuration(50 * 3_600_000)).toBe('2 d 2 h');
    expect(formatDuration(86_400_000)).toBe('1 d');
    expect(formatDuration(-1)).toBe('—');
  });
});

const items: TimelineItem[] = [
  {
    id: 'e2',
    time: '2025-06-01T11:57:00Z',
    title: 'memory-1: RUNNING → ERRORED',
    description: 'CRASH_LOOP',
    tone: 'error',
    status: 'failed',
    durationMs: 4200,
    details: 'exit status 2',
  },
  { id: 'e1', time: NOW - 2 * 3_600_000, title: 'memory-1 created', tone: 'info' },
];

describe('Timeline', () => {
  it('lists the items with relative times, the exact time in <time>, and the status said in words', () => {
    render(<Timeline items={items} label="Recent activity" now={NOW} />);
    const list = screen.getByRole('list', { name: 'Recent activity' });
    const entries = within(list).getAllByRole('listitem');
    expect(entries).toHaveLength(2);
    const first = entries[0];
    if (!first) {
      throw new Error('no entry');
    }
    expect(first.getAttribute('data-tone')).toBe('error');
    expect(within(first).getByText('failed:', { exact: false })).toBeTruthy();
    expect(within(first).getByText('CRASH_LOOP')).toBeTruthy();
    expect(within(first).getByText('took 4.2 s')).toBeTruthy();
    const time = within(first).getByText('3 min ago');
    expect(time.tagName).toBe('TIME');
    expect(time.getAttribute('dateTime')).toBe('2025-06-01T11:57:00.000Z');
    expect(time.getAttribute('title')).toBe(new Date('2025-06-01T11:57:00Z').toLocaleString());
    expect(within(entries[1] ?? list).getByText('2 h ago')).toBeTruthy();
  });

  it('opens and closes the details with a button that says so', () => {
    render(<Timeline items={items} label="Recent activity" now={NOW} />);
    const button = screen.getByRole('button', { name: 'Details' });
    expect(button.getAttribute('aria-expanded')).toBe('false');
    const panel = document.getElementById(button.getAttribute('aria-controls') ?? '');
    expect(panel?.hidden).toBe(true);
    fireEvent.click(button);
    expect(button.getAttribute('aria-expanded')).toBe('true');
    expect(panel?.hidden).toBe(false);
    expect(panel?.textContent).toBe('exit status 2');
    expect(button.textContent).toBe('Hide details');
    fireEvent.click(button);
    expect(panel?.hidden).toBe(true);
    // Only the item with details has the button.
    expect(screen.getAllByRole('button')).toHaveLength(1);
  });

  it('says so when empty', () => {
    const { rerender } = render(<Timeline items={[]} label="Recent activity" />);
    expect(screen.getByText('Nothing has happened yet.')).toBeTruthy();
    expect(screen.queryByRole('list')).toBeNull();
    rerender(<Timeline items={[]} label="Recent activity" emptyText="No agent events in this context." />);
    expect(screen.getByText('No agent events in this context.')).toBeTruthy();
  });

  it('keeps its relative times true with its own clock', () => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    render(<Timeline items={[{ id: 'x', time: NOW - 20_000, title: 'started' }]} label="Activity" />);
    expect(screen.getByText('just now')).toBeTruthy();
    act(() => {
      vi.advanceTimersByTime(90_000);
    });
    expect(screen.getByText('2 min ago')).toBeTruthy();
  });
});
