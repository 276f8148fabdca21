import { QueryClient } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { App } from './App';
import { configureClient, isApiError } from './api/client';
import { EventStream, RESYNC_EVENT } from './api/ws';
import { agentKeys } from './features/agents/queries';
import { getSession, loadSession, signedOut } from './session';
import './styles/fonts.css';
import './styles/tokens.css';
import './styles/base.css';
import { initTheme } from './styles/theme';

initTheme();

configureClient({
  // A call found the session gone: show the login page.
  onUnauthenticated: () => {
    if (getSession().state === 'signed-in') {
      void signedOut();
    }
  },
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // The event stream keeps the cache fresh: no refetch on focus, no timers.
      staleTime: 30_000,
      refetchOnWindowFocus: false,
      retry: (count, err) => count < 2 && !(isApiError(err) && err.status >= 400 && err.status < 500),
    },
  },
});

const stream = new EventStream({
  // Access changed (logout, expiry, a grant ran out): re-check who we are
  // before the stream reconnects.
  onAccessEnded: loadSession,
  // Events were missed and cannot be replayed: re-read what they cover.
  onResync: (topics) => {
    if (topics.some((t) => t === '*' || t === 'agents' || t.startsWith('agents/'))) {
      void queryClient.invalidateQueries({ queryKey: agentKeys.all });
    }
    if (topics.some((t) => t === '*' || /^(users|tokens|grants)(\/|$)/.test(t))) {
      // The admin pages' lists (features/admin/queries.ts identityKeys.all,
      // named here so the first route does not load the admin pages).
      void queryClient.invalidateQueries({ queryKey: ['identity'] });
    }
    // Pages that keep their own copy of the stream (the events page) re-read too.
    window.dispatchEvent(new CustomEvent<string[]>(RESYNC_EVENT, { detail: topics }));
  },
});

void loadSession();

const root = document.getElementById('root');
if (!root) {
  throw new Error('index.html has no #root element');
}
createRoot(root).render(
  <StrictMode>
    <BrowserRouter>
      <App stream={stream} queryClient={queryClient} />
    </BrowserRouter>
  </StrictMode>,
);
