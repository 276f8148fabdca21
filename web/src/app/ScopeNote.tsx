// ScopeNote says that a page shows only the context chosen in the header,
// with the way back to everything: a page never narrows silently.
import { scopeLabel, setScope, useScope } from './scope';

export function ScopeNote({ what }: { what: 'agents' | 'events' }) {
  const scope = useScope();
  if (scope.kind === 'all') {
    return null;
  }
  return (
    <p className="scope-note">
      Showing the {what} of <strong>{scopeLabel(scope)}</strong> only (the context chosen in the header).{' '}
      <button
        type="button"
        className="button-link"
        onClick={() => {
          setScope({ kind: 'all' });
        }}
      >
        Show all {what}
      </button>
    </p>
  );
}
