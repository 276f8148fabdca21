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

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** formatRelative says how long ago (or how far ahead) a time is: "3 min ago", "in 2 h". */
export function formatRelative(time: Date | number | string, now: number): string {
  const at = (time instanceof Date ? time : new Date(time)).getTime();
  if (Number.isNaN(at)) {
    return 'at an unknown time';
  }
  const diff = now - at;
  const abs = Math.abs(diff);
  if (abs < 45_000) {
    return 'just now';
  }
  let text: string;
  if (abs < HOUR_MS) {
    text = `${Math.max(1, Math.round(abs / MINUTE_MS))} min`;
  } else if (abs < DAY_MS) {
    text = `${Math.round(abs / HOUR_MS)} h`;
  } else {
    const days = Math.round(abs / DAY_MS);
    text = `${days} ${days === 1 ? 'day' : 'days'}`;
  }
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}
