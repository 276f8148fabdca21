import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { agentAction } from '../../api/agents';
import { isApiError } from '../../api/client';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { Modal } from '../../ui/Modal';
import { agentChanged, agentKeys } from './queries';
import { actionLabel, stateName, type AllowedAction } from './states';

/** Whether an error is the stale-etag refusal (409 ABORTED). */
export function isStale(err: unknown): boolean {
  return isApiError(err) && (err.status === 409 || err.codeName === 'ABORTED');
}

/**
 * ConfirmActionDialog previews a lifecycle action ("Stop agent X: RUNNING →
 * STOPPED") and, when confirmed, sends it with the agent's etag.
 */
export function ConfirmActionDialog({
  agent,
  action,
  onClose,
}: {
  agent: AgentJson;
  action: AllowedAction | undefined;
  onClose: () => void;
}) {
  const titleId = useId();
  const qc = useQueryClient();
  const [reason, setReason] = useState('');
  const mutation = useMutation({
    mutationFn: (a: AllowedAction) =>
      agentAction(agent.id ?? '', a.action, { etag: agent.etag ?? '', reason: reason.trim() }),
    onSuccess: (res) => {
      if (res.agent) {
        agentChanged(qc, res.agent);
      }
      void qc.invalidateQueries({ queryKey: agentKeys.all });
      close();
    },
    onError: (err) => {
      if (isStale(err)) {
        // Someone else changed it: re-read, so the next try has the new etag.
        void qc.invalidateQueries({ queryKey: agentKeys.all });
      }
    },
  });
  const close = () => {
    mutation.reset();
    setReason('');
    onClose();
  };
  const name = agent.displayName ?? agent.name ?? agent.id ?? '';
  return (
    <Modal open={action !== undefined} onClose={close} labelledBy={titleId}>
      {action ? (
        <form
          className="modal-body"
          onSubmit={(e) => {
            e.preventDefault();
            mutation.mutate(action);
          }}
        >
          <h2 id={titleId} className="modal-title">
            {actionLabel(action.action)} agent {name}
          </h2>
          <p className="transition" data-testid="transition-preview">
            {actionLabel(action.action)} agent <strong>{name}</strong>: {stateName(agent.state)} →{' '}
            {stateName(action.to)}
          </p>
          {action.action === 'revoke' ? (
            <p className="warning-text">Revoking is final: the agent cannot run again.</p>
          ) : null}
          <label className="field">
            <span>Reason (kept in the state history)</span>
            <input
              className="input"
              value={reason}
              onChange={(e) => {
                setReason(e.target.value);
              }}
            />
          </label>
          {isStale(mutation.error) ? (
            <div className="error-box" role="alert">
              This agent was changed by someone else, reloaded. Check its state and try again.
            </div>
          ) : (
            <ErrorMessage error={mutation.error} title="Refused" />
          )}
          <div className="modal-actions">
            <button type="button" className="button" onClick={close}>
              Cancel
            </button>
            <button
              type="submit"
              className={action.action === 'revoke' ? 'button button-danger' : 'button button-primary'}
              disabled={mutation.isPending || isStale(mutation.error)}
            >
              {mutation.isPending ? 'Working…' : actionLabel(action.action)}
            </button>
          </div>
        </form>
      ) : null}
    </Modal>
  );
}
