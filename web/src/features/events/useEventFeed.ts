// The events page's feed: the recent history over REST, then every event of
// the stream ('*') as it comes, newest first, with pause and resume.
import { useCallback, useEffect, useReducer, useState } from 'react';
import { recentEvents } from '../../api/events';
import { RESYNC_EVENT } from '../../api/ws';
import { useStream } from '../../app/context';
import { feedReducer, HISTORY_LIMIT, initialFeed, type FeedState } from './model';

export interface EventFeed extends FeedState {
  historyError: unknown;
  pause: () => void;
  resume: () => void;
  /** Reads the history again (after it failed). */
  retry: () => void;
}

export function useEventFeed(): EventFeed {
  const stream = useStream();
  const [state, dispatch] = useReducer(feedReducer, initialFeed);
  const [attempt, setAttempt] = useState(0);
  const [historyError, setHistoryError] = useState<unknown>(undefined);

  // Subscribed before the history is asked for, so nothing falls between
  // the two: what both bring is dropped by seq.
  useEffect(
    () =>
      stream.subscribe('*', (event) => {
        dispatch({ type: 'event', event });
      }),
    [stream],
  );

  // Events were missed and cannot be replayed: read the history again.
  useEffect(() => {
    const onResync = () => {
      setAttempt((n) => n + 1);
    };
    window.addEventListener(RESYNC_EVENT, onResync);
    return () => {
      window.removeEventListener(RESYNC_EVENT, onResync);
    };
  }, []);

  useEffect(() => {
    const ctl = new AbortController();
    recentEvents('*', HISTORY_LIMIT, ctl.signal).then(
      (res) => {
        setHistoryError(undefined);
        dispatch({ type: 'history', events: res.events, head: res.seq });
      },
      (err: unknown) => {
        if (!ctl.signal.aborted) {
          setHistoryError(err);
        }
      },
    );
    return () => {
      ctl.abort();
    };
  }, [attempt]);

  const pause = useCallback(() => {
    dispatch({ type: 'pause' });
  }, []);
  const resume = useCallback(() => {
    dispatch({ type: 'resume' });
  }, []);
  const retry = useCallback(() => {
    setAttempt((n) => n + 1);
  }, []);
  return { ...state, historyError, pause, resume, retry };
}
