import { useEffect, useState } from 'react';

/**
 * useNow is the current time, moving on every intervalMs: relative times
 * ("3 min ago") and time left stay true without new data. It is a clock,
 * not a poll: it fetches nothing. An interval of 0 stops it.
 */
export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (intervalMs <= 0) {
      return;
    }
    const t = setInterval(() => {
      setNow(Date.now());
    }, intervalMs);
    return () => {
      clearInterval(t);
    };
  }, [intervalMs]);
  return now;
}
