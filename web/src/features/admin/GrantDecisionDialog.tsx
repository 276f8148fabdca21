import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { decideGrant, type GrantDecision } from '../../api/admin';
import { isApiError } from '../../api/client';
import type { GrantJson, GrantStateJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { Modal } from '../../ui/Modal';
import { toast } from '../../ui/toast';
import { firstText, formatDuration, grantState, grantStateInfo, roleLabel } from './model';
import { grantChanged, identityKeys } from './queries';

const DECISIONS: Record<GrantDecision, { label: string; from: GrantStateJson; done: string; danger: boolean }> = {
  approve: { label: 'Approve', from: 'GRANT_STATE_PENDING', done: 'Approved', danger: false },
  deny: { label: 'Deny', from: 'GRANT_STATE_PENDING', done: 'Denied', danger: true },
  revoke: { label: 'Revoke', from: 'GRANT_STATE_ACTIVE', done: 'Revoked', danger: true },
};

export interface ChosenDecision {
  grant: GrantJson;
  decision: GrantDecision;
}

/**
 * GrantDecisionDialog confirms approving, denying or revoking a grant, with
 * an optional note kept with the decision. If the grant is decided elsewhere
 * meanwhile (the list follows the stream), it says so instead.
 */
export function GrantDecisionDialog({ chosen, onClose }: { chosen: ChosenDecision | undefined; onClose: () => void }) {
  const titleId = useId();
  return (
    <Modal open={chosen !== undefined} onClose={onClose} labelledBy={titleId}>
      {chosen ? (
        <DecisionForm
          key={`${chosen.grant.id ?? ''}:${chosen.decision}`}
          grant={chosen.grant}
          decision={chosen.decision}
          titleId={titleId}
          onClose={onClose}
        />
      ) : null}
    </Modal>
  );
}

function DecisionForm({
  grant,
  decision,
  titleId,
  onClose,
}: {
  grant: GrantJson;
  decision: GrantDecision;
  titleId: string;
  onClose: () => void;
}) {
  const qc = useQueryClient();
  const noteId = useId();
  const [note, setNote] = useState('');
  const d = DECISIONS[decision];
  const who = firstText(grant.userEmail, grant.userId) ?? '';
  const mutation = useMutation({
    mutationFn: () => decideGrant(grant.id ?? '', decision, note.trim()),
    onSuccess: (res) => {
      if (res.grant) {
        grantChanged(qc, res.grant);
      }
      toast({
        tone: 'success',
        title: `${d.done}: ${who}, ${roleLabel(grant.role)}`,
        description: decision === 'approve' ? `Active for ${formatDuration(grant.duration)} from now.` : undefined,
      });
      onClose();
    },
    onError: (err) => {
      if (isApiError(err) && (err.codeName === 'FAILED_PRECONDITION' || err.codeName === 'NOT_FOUND')) {
        // Decided (or run out) meanwhile: show the list as it is now.
        void qc.invalidateQueries({ queryKey: identityKeys.grants() });
      }
    },
  });
  // The state the list shows now; Date.now() is read once, at opening.
  const [openedAt] = useState(() => Date.now());
  const now = grantState(grant, openedAt);
  const moved = now !== d.from && !mutation.isPending && !mutation.isSuccess;
  return (
    <form
      className="modal-body"
      onSubmit={(e) => {
        e.preventDefault();
        mutation.mutate();
      }}
    >
      <h2 id={titleId} className="modal-title">
        {d.label} the grant for {who}
      </h2>
      <p className="transition">
        <strong>{who}</strong> asks for <strong>{roleLabel(grant.role)}</strong> for {formatDuration(grant.duration)}
        {grant.reason ? (
          <>
            : <q className="admin-break">{grant.reason}</q>
          </>
        ) : null}
      </p>
      {decision === 'approve' ? (
        <p className="muted">Once approved, the role is theirs at once, for {formatDuration(grant.duration)}.</p>
      ) : decision === 'revoke' ? (
        <p className="admin-warning">They lose the {roleLabel(grant.role)} role at once.</p>
      ) : null}
      <div className="field">
        <label htmlFor={noteId}>Note (optional, kept with the decision)</label>
        <input
          id={noteId}
          className="input"
          value={note}
          maxLength={500}
          onChange={(e) => {
            setNote(e.target.value);
          }}
        />
      </div>
      {moved ? (
        <div className="error-box" role="alert">
          This grant is now {grantStateInfo(now).label.toLowerCase()}: there is nothing to {d.label.toLowerCase()}.
        </div>
      ) : (
        <ErrorMessage error={mutation.error} title={`Not ${d.done.toLowerCase()}`} />
      )}
      <div className="modal-actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button
          type="submit"
          className={d.danger ? 'button button-danger' : 'button button-primary'}
          disabled={mutation.isPending || moved}
        >
          {mutation.isPending ? 'Working…' : d.label}
        </button>
      </div>
    </form>
  );
}
