import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId } from 'react';
import { revokeToken } from '../../api/admin';
import { isApiError } from '../../api/client';
import type { TokenJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { Modal } from '../../ui/Modal';
import { toast } from '../../ui/toast';
import { roleLabel } from './model';
import { identityKeys, tokenChanged } from './queries';

/** RevokeTokenDialog asks before revoking a token, naming it: revoking is at once and final. */
export function RevokeTokenDialog({ token, onClose }: { token: TokenJson | undefined; onClose: () => void }) {
  const titleId = useId();
  return (
    <Modal open={token !== undefined} onClose={onClose} labelledBy={titleId}>
      {token ? <RevokeForm key={token.id} token={token} titleId={titleId} onClose={onClose} /> : null}
    </Modal>
  );
}

function RevokeForm({ token, titleId, onClose }: { token: TokenJson; titleId: string; onClose: () => void }) {
  const qc = useQueryClient();
  const mutation = useMutation({
    mutationFn: () => revokeToken(token.id ?? ''),
    onSuccess: (res) => {
      if (res.token) {
        tokenChanged(qc, res.token);
      }
      toast({ tone: 'success', title: `Token ${token.name ?? ''} revoked` });
      onClose();
    },
    onError: (err) => {
      if (isApiError(err) && (err.codeName === 'FAILED_PRECONDITION' || err.codeName === 'NOT_FOUND')) {
        // Revoked (or gone) meanwhile: show the list as it is now.
        void qc.invalidateQueries({ queryKey: identityKeys.tokens() });
      }
    },
  });
  return (
    <form
      className="modal-body"
      onSubmit={(e) => {
        e.preventDefault();
        mutation.mutate();
      }}
    >
      <h2 id={titleId} className="modal-title">
        Revoke token {token.name}
      </h2>
      <p className="transition">
        <strong>{token.name}</strong> ({roleLabel(token.role)}, <span className="mono">{token.prefix}…</span>)
      </p>
      <p className="admin-warning">
        Anything using this token is refused from now on. Revoking is final: to give access again, create a new token.
      </p>
      <ErrorMessage error={mutation.error} title="Not revoked" />
      <div className="modal-actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button button-danger" disabled={mutation.isPending}>
          {mutation.isPending ? 'Revoking…' : 'Revoke'}
        </button>
      </div>
    </form>
  );
}
