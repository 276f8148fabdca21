// What jsdom lacks and the UI uses: <dialog>'s showModal/close, and the
// ResizeObserver Radix's popper measures with.
if (!('showModal' in HTMLDialogElement.prototype) || typeof HTMLDialogElement.prototype.showModal !== 'function') {
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
}
if (typeof HTMLDialogElement.prototype.close !== 'function') {
  HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement) {
    this.removeAttribute('open');
    this.dispatchEvent(new Event('close'));
  };
}
if (typeof globalThis.ResizeObserver === 'undefined') {
  globalThis.ResizeObserver = class {
    observe(): void {
      // nothing to measure in jsdom
    }
    unobserve(): void {
      // nothing to measure in jsdom
    }
    disconnect(): void {
      // nothing to measure in jsdom
    }
  };
}
