// The colour theme: "dark" (the operational command center, the default) or
// "light". Applied as data-theme on <html>, remembered in localStorage, kept
// the same in every tab (the storage event), and, until the user picks one,
// taken from the system's prefers-color-scheme.
import { useSyncExternalStore } from 'react';

export type Theme = 'dark' | 'light';

export const THEME_STORAGE_KEY = 'waooaw-theme';

const listeners = new Set<() => void>();

function isTheme(v: unknown): v is Theme {
  return v === 'dark' || v === 'light';
}

function storedTheme(): Theme | undefined {
  try {
    const v = window.localStorage.getItem(THEME_STORAGE_KEY);
    return isTheme(v) ? v : undefined;
  } catch {
    return undefined; // storage disabled
  }
}

function systemTheme(): Theme {
  return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: light)').matches
    ? 'light'
    : 'dark';
}

/** getTheme is the chosen theme, else the system's, else dark. */
export function getTheme(): Theme {
  return storedTheme() ?? systemTheme();
}

function apply(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
}

function changed(): void {
  apply(getTheme());
  for (const l of [...listeners]) {
    l();
  }
}

/** setTheme chooses a theme, remembers it, and applies it. */
export function setTheme(theme: Theme): void {
  try {
    window.localStorage.setItem(THEME_STORAGE_KEY, theme);
  } catch {
    // Storage disabled: the theme holds for this page only.
    apply(theme);
    for (const l of [...listeners]) {
      l();
    }
    return;
  }
  changed();
}

/** toggleTheme switches between dark and light; returns the new theme. */
export function toggleTheme(): Theme {
  const next: Theme = document.documentElement.dataset.theme === 'light' ? 'dark' : 'light';
  setTheme(next);
  return next;
}

/** subscribeTheme calls listener when the theme changes; returns the unsubscribe. */
export function subscribeTheme(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * initTheme applies the theme and follows changes made in other tabs and, while
 * none is chosen, the system's. Returns a function that stops following.
 */
export function initTheme(): () => void {
  apply(getTheme());
  const onStorage = (e: StorageEvent) => {
    // key null: the other tab cleared the storage.
    if (e.key === THEME_STORAGE_KEY || e.key === null) {
      changed();
    }
  };
  window.addEventListener('storage', onStorage);
  const media = typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: light)') : undefined;
  const onSystem = () => {
    if (storedTheme() === undefined) {
      changed();
    }
  };
  media?.addEventListener('change', onSystem);
  return () => {
    window.removeEventListener('storage', onStorage);
    media?.removeEventListener('change', onSystem);
  };
}

function currentTheme(): Theme {
  const t = document.documentElement.dataset.theme;
  return isTheme(t) ? t : getTheme();
}

/** useTheme re-renders with the theme in force. */
export function useTheme(): Theme {
  return useSyncExternalStore(subscribeTheme, currentTheme);
}
