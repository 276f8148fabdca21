/** formatTime shows an RFC 3339 time in the user's locale; "—" when absent. */
export function formatTime(t: string | undefined): string {
  if (!t) {
    return '—';
  }
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
}

/** orElse is the text, or the fallback when it is missing or empty. */
export function orElse(s: string | undefined, fallback: string): string {
  return s === undefined || s === '' ? fallback : s;
}
