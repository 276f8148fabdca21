import { useSyncExternalStore } from 'react';
import type { ConnectionState, EventStream } from './ws';

/** useConnectionState re-renders with the stream's connection state. */
export function useConnectionState(stream: EventStream): ConnectionState {
  return useSyncExternalStore(stream.subscribeState, stream.getState);
}
