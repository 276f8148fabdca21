import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { configureClient } from './api/client';
import { EventStream } from './api/ws';
import { getSession, loadSession, signedOut } from './session';
import './styles/fonts.css';
import './styles/tokens.css';
import './styles/base.css';
import { initTheme } from './styles/theme';

initTheme();

configureClient({
  // A call found the session gone: show the login links (the pages will
  // redirect to /auth/login?redirect=… instead).
  onUnauthenticated: () => {
    if (getSession().state === 'signed-in') {
      void signedOut();
    }
  },
});

const stream = new EventStream({
  // Access changed (logout, expiry, a grant ran out): re-check who we are
  // before the stream reconnects.
  onAccessEnded: loadSession,
  // The shell keeps no data to re-read; the pages will refetch their topics.
  onResync: () => undefined,
});

void loadSession();

const root = document.getElementById('root');
if (!root) {
  throw new Error('index.html has no #root element');
}
createRoot(root).render(
  <StrictMode>
    <App stream={stream} />
  </StrictMode>,
);
