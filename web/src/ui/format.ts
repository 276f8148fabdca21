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

/** formatSpan names a length of time the short way: "2 h 30 min", "45 s", "30 d". */
export function formatSpan(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts: string[] = [];
  if (d > 0) {
    parts.push(`${d} d`);
  }
  if (h > 0) {
    parts.push(`${h} h`);
  }
  if (m > 0 && d === 0) {
    parts.push(`${m} min`);
  }
  if (sec > 0 && d === 0 && h === 0) {
    parts.push(`${sec} s`);
  }
  return parts.length === 0 ? '0 s' : parts.join(' ');
}
