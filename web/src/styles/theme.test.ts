import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { THEME_STORAGE_KEY, getTheme, initTheme, setTheme, subscribeTheme, toggleTheme, useTheme } from './theme';

function stubSystemTheme(light: boolean) {
  const listeners = new Set<() => void>();
  const media = {
    matches: light,
    media: '(prefers-color-scheme: light)',
    addEventListener: (_: string, l: () => void) => listeners.add(l),
    removeEventListener: (_: string, l: () => void) => listeners.delete(l),
  };
  vi.stubGlobal(
    'matchMedia',
    vi.fn(() => media),
  );
  return {
    change(toLight: boolean) {
      media.matches = toLight;
      for (const l of listeners) {
        l();
      }
    },
  };
}

/** Another tab wrote the key: the browser fires storage in this one. */
function otherTabSets(value: string | null) {
  if (value === null) {
    localStorage.removeItem(THEME_STORAGE_KEY);
  } else {
    localStorage.setItem(THEME_STORAGE_KEY, value);
  }
  window.dispatchEvent(new StorageEvent('storage', { key: THEME_STORAGE_KEY, newValue: value }));
}

let stop: (() => void) | undefined;

beforeEach(() => {
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});

afterEach(() => {
  stop?.();
  stop = undefined;
});

describe('theme', () => {
  it('defaults to dark, or to the system preference when it is light', () => {
    expect(getTheme()).toBe('dark'); // jsdom has no matchMedia
    stubSystemTheme(true);
    expect(getTheme()).toBe('light');
    stubSystemTheme(false);
    expect(getTheme()).toBe('dark');
  });

  it('applies the theme as data-theme on <html>', () => {
    stubSystemTheme(true);
    stop = initTheme();
    expect(document.documentElement.dataset.theme).toBe('light');
  });

  it('persists the choice under waooaw-theme, over the system preference', () => {
    stubSystemTheme(true);
    stop = initTheme();
    setTheme('dark');
    expect(localStorage.getItem('waooaw-theme')).toBe('dark');
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(getTheme()).toBe('dark');
  });

  it('ignores a stored value that is not a theme', () => {
    localStorage.setItem(THEME_STORAGE_KEY, 'neon');
    expect(getTheme()).toBe('dark');
  });

  it('toggles and notifies', () => {
    stop = initTheme();
    const listener = vi.fn();
    const unsubscribe = subscribeTheme(listener);
    expect(toggleTheme()).toBe('light');
    expect(localStorage.getItem(THEME_STORAGE_KEY)).toBe('light');
    expect(document.documentElement.dataset.theme).toBe('light');
    expect(toggleTheme()).toBe('dark');
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(listener).toHaveBeenCalledTimes(2);
    unsubscribe();
    toggleTheme();
    expect(listener).toHaveBeenCalledTimes(2);
  });

  it('follows a change made in another tab', () => {
    stop = initTheme();
    const listener = vi.fn();
    const unsubscribe = subscribeTheme(listener);
    otherTabSets('light');
    expect(document.documentElement.dataset.theme).toBe('light');
    expect(listener).toHaveBeenCalledTimes(1);
    otherTabSets('dark');
    expect(document.documentElement.dataset.theme).toBe('dark');
    // Another key changing is none of our business.
    window.dispatchEvent(new StorageEvent('storage', { key: 'something-else', newValue: 'x' }));
    expect(listener).toHaveBeenCalledTimes(2);
    unsubscribe();
  });

  it('stops following other tabs when stopped', () => {
    stop = initTheme();
    stop();
    otherTabSets('light');
    expect(document.documentElement.dataset.theme).toBe('dark');
  });

  it('follows the system while nothing is chosen', () => {
    const system = stubSystemTheme(false);
    stop = initTheme();
    expect(document.documentElement.dataset.theme).toBe('dark');
    system.change(true);
    expect(document.documentElement.dataset.theme).toBe('light');
    setTheme('dark');
    system.change(true);
    expect(document.documentElement.dataset.theme).toBe('dark');
  });

  it('useTheme re-renders on changes, also from other tabs', () => {
    stop = initTheme();
    const { result } = renderHook(() => useTheme());
    expect(result.current).toBe('dark');
    act(() => {
      toggleTheme();
    });
    expect(result.current).toBe('light');
    act(() => {
      otherTabSets('dark');
    });
    expect(result.current).toBe('dark');
  });
});
