import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatSpan } from './format';
import { percent, ProgressTracker, remainingMs } from './ProgressTracker';

afterEach(cleanup);

describe('progress arithmetic', () => {
  it.each([
    [0, 10, 0],
    [3, 10, 30],
    [10, 10, 100],
    [12, 10, 100],
    [0, 0, 0],
    [1, 3, 33],
  ])('percent(%i, %i) = %i', (done, total, want) => {
    expect(percent(done, total)).toBe(want);
  });

  it('estimates the time left from the pace so far, and not before there is one', () => {
    expect(remainingMs(0, 10, 5000)).toBeUndefined();
    expect(remainingMs(10, 10, 5000)).toBeUndefined();
    expect(remainingMs(2, 10, 4000)).toBe(16_000);
  });

  it.each([
    [0, '0 s'],
    [45, '45 s'],
    [200, '3 min 20 s'],
    [180, '3 min'],
    [3_900, '1 h 5 min'],
    [7_200, '2 h'],
    [90_000, '1 d 1 h'],
  ])('formatSpan(%i) = %s', (seconds, want) => {
    expect(formatSpan(seconds)).toBe(want);
  });
});

describe('ProgressTracker', () => {
  it('shows the count, percentage, time left and each step with its outcome', () => {
    render(
      <ProgressTracker
        label="Stopping 4 agents"
        done={2}
        total={4}
        startedAt={1000}
        now={() => 11_000}
        steps={[
          { id: 'a', label: 'alpha', status: 'succeeded' },
          { id: 'b', label: 'beta', status: 'failed', detail: 'agent is busy' },
          { id: 'c', label: 'gamma', status: 'running' },
          { id: 'd', label: 'delta', status: 'pending' },
        ]}
      />,
    );
    const bar = screen.getByRole('progressbar', { name: 'Stopping 4 agents' });
    expect(bar.getAttribute('aria-valuenow')).toBe('2');
    expect(bar.getAttribute('aria-valuemax')).toBe('4');
    expect(bar.getAttribute('aria-valuetext')).toBe('2 of 4 (50%)');
    expect(screen.getByText('About 10 s left')).toBeTruthy();
    const steps = screen.getAllByRole('listitem');
    expect(steps.map((s) => s.dataset.status)).toEqual(['succeeded', 'failed', 'running', 'pending']);
    expect(steps[1]?.textContent).toContain('agent is busy');
    expect(steps[1]?.textContent).toContain('Failed');
  });

  it('offers cancel and pause while running, and neither once finished', () => {
    const cancel = vi.fn();
    const pause = vi.fn();
    const { rerender } = render(
      <ProgressTracker label="Job" done={1} total={3} startedAt={0} onCancel={cancel} onPause={pause} />,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    fireEvent.click(screen.getByRole('button', { name: 'Pause' }));
    expect(cancel).toHaveBeenCalledOnce();
    expect(pause).toHaveBeenCalledOnce();
    rerender(<ProgressTracker label="Job" done={1} total={3} startedAt={0} onCancel={cancel} onPause={pause} paused />);
    expect(screen.getByRole('button', { name: 'Resume' })).toBeTruthy();
    expect(screen.getByText('Paused')).toBeTruthy();
    rerender(<ProgressTracker label="Job" done={3} total={3} startedAt={0} onCancel={cancel} finished />);
    expect(screen.queryByRole('button')).toBeNull();
    expect(screen.getByText('Finished')).toBeTruthy();
  });

  it('says it is starting before anything is done', () => {
    render(<ProgressTracker label="Job" done={0} total={5} startedAt={Date.now()} />);
    expect(screen.getByText('Starting…')).toBeTruthy();
  });
});
