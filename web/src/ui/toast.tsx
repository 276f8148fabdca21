// Toasts: short notes about what just happened (an action accepted, a bulk
// operation done, a failure), on Radix Toast, which announces them to
// screen readers, pauses on hover and focus, and has a keyboard hotkey (F8)
// to reach them. Anything in the app calls toast(); <Toaster/> draws them.
import * as RadixToast from '@radix-ui/react-toast';
import { useSyncExternalStore } from 'react';
import './toast.css';

export type ToastTone = 'success' | 'error' | 'info';

export interface ToastInput {
  title: string;
  description?: string;
  tone?: ToastTone;
  /** How long it stays, ms (5 000; errors 10 000). */
  durationMs?: number;
}

interface ToastItem extends Required<Omit<ToastInput, 'description'>> {
  id: number;
  description?: string;
  open: boolean;
}

/** At most this many toasts at once: the oldest goes first. */
const MAX_TOASTS = 4;

let items: ToastItem[] = [];
let nextId = 1;
const listeners = new Set<() => void>();

function set(next: ToastItem[]): void {
  items = next;
  for (const l of [...listeners]) {
    l();
  }
}

/** toast shows a note; returns its id. */
export function toast(t: ToastInput): number {
  const id = nextId++;
  const tone = t.tone ?? 'info';
  const item: ToastItem = {
    id,
    title: t.title,
    description: t.description,
    tone,
    durationMs: t.durationMs ?? (tone === 'error' ? 10_000 : 5_000),
    open: true,
  };
  set([...items, item].slice(-MAX_TOASTS));
  return id;
}

/** dismissToast closes a toast early. */
export function dismissToast(id: number): void {
  set(items.map((t) => (t.id === id ? { ...t, open: false } : t)));
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

function getItems(): ToastItem[] {
  return items;
}

/** Test hook: drop every toast. */
export function clearToastsForTest(): void {
  set([]);
}

export function Toaster() {
  const list = useSyncExternalStore(subscribe, getItems);
  return (
    <RadixToast.Provider swipeDirection="right" label="Notification">
      {list.map((t) => (
        <RadixToast.Root
          key={t.id}
          className="toast"
          data-tone={t.tone}
          open={t.open}
          duration={t.durationMs}
          type={t.tone === 'error' ? 'foreground' : 'background'}
          onOpenChange={(open) => {
            if (!open) {
              // Let the closing animation finish, then forget it.
              dismissToast(t.id);
              setTimeout(() => {
                set(items.filter((x) => x.id !== t.id));
              }, 200);
            }
          }}
        >
          <RadixToast.Title className="toast-title">{t.title}</RadixToast.Title>
          {t.description ? (
            <RadixToast.Description className="toast-description">{t.description}</RadixToast.Description>
          ) : null}
          <RadixToast.Close className="toast-close" aria-label="Dismiss">
            ×
          </RadixToast.Close>
        </RadixToast.Root>
      ))}
      <RadixToast.Viewport className="toast-viewport" />
    </RadixToast.Provider>
  );
}
