import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { clearToastsForTest, dismissToast, toast, Toaster } from './toast';

afterEach(() => {
  cleanup();
  clearToastsForTest();
});

describe('toasts', () => {
  it('shows a toast with its tone, and the close button dismisses it', async () => {
    render(<Toaster />);
    act(() => {
      toast({ title: 'Agent started', description: 'memory-1 is running', tone: 'success' });
    });
    const title = await screen.findByText('Agent started');
    const item = title.closest('li');
    expect(item?.dataset.tone).toBe('success');
    expect(screen.getByText('memory-1 is running')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(item?.dataset.state).toBe('closed');
  });

  it('keeps at most four, dropping the oldest', () => {
    render(<Toaster />);
    act(() => {
      for (let i = 1; i <= 6; i++) {
        toast({ title: `note ${String(i)}` });
      }
    });
    expect(screen.queryByText('note 1')).toBeNull();
    expect(screen.queryByText('note 2')).toBeNull();
    expect(screen.getByText('note 6')).toBeTruthy();
  });

  it('closes on its own after its duration', async () => {
    render(<Toaster />);
    act(() => {
      toast({ title: 'brief', durationMs: 50 });
    });
    const item = screen.getByText('brief').closest('li');
    expect(item?.dataset.state).toBe('open');
    await waitFor(() => {
      expect(item?.dataset.state).toBe('closed');
    });
  });

  it('can be dismissed by id', () => {
    render(<Toaster />);
    let id = 0;
    act(() => {
      id = toast({ title: 'going', tone: 'error' });
    });
    const item = screen.getByText('going').closest('li');
    act(() => {
      dismissToast(id);
    });
    expect(item?.dataset.state).toBe('closed');
  });
});
