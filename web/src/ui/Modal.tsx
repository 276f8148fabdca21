// A modal on the native <dialog> (showModal): the browser traps focus, closes
// on Escape and draws the backdrop, with no style injected at run time (which
// the CSP's style-src 'self' would refuse).
import { useEffect, useRef, type ReactNode } from 'react';

export function Modal({
  open,
  onClose,
  labelledBy,
  size = 'md',
  children,
}: {
  open: boolean;
  onClose: () => void;
  labelledBy: string;
  /** md for a question, lg for a form or a progress list. */
  size?: 'md' | 'lg';
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) {
      return;
    }
    if (open && !d.open) {
      d.showModal();
    } else if (!open && d.open) {
      d.close();
    }
  }, [open]);
  return (
    <dialog
      ref={ref}
      className={size === 'lg' ? 'modal modal-lg' : 'modal'}
      aria-labelledby={labelledBy}
      onClose={onClose}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      {open ? children : null}
    </dialog>
  );
}
