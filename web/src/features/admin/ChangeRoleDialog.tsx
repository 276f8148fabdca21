import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { setUserRole } from '../../api/admin';
import { isApiError } from '../../api/client';
import type { RoleJson } from '../../gen/portal/auth/v1/auth_pb';
import type { UserJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { Modal } from '../../ui/Modal';
import { toast } from '../../ui/toast';
import { firstText, hasRole, isDevUser, roleLabel, ROLES, roleSource } from './model';
import { identityKeys, userChanged } from './queries';

/** Whether a refusal is the stale-etag one: someone changed the user since it was read. */
export function isStale(err: unknown): boolean {
  return isApiError(err) && (err.codeName === 'ABORTED' || err.reason === 'ETAG_MISMATCH');
}

const RULES = 'ROLE_UNSPECIFIED';

function userName(u: UserJson): string {
  return firstText(u.name, u.email, u.id) ?? '';
}

/**
 * ChangeRoleDialog assigns a user a role, or gives them back to the role
 * rules. The change is based on the user as it was when the dialog opened
 * (its etag): if someone changes them meanwhile, the admin is told and
 * confirms against the new state rather than overwriting it unseen.
 */
export function ChangeRoleDialog({ user, onClose }: { user: UserJson | undefined; onClose: () => void }) {
  const titleId = useId();
  return (
    <Modal open={user !== undefined} onClose={onClose} labelledBy={titleId}>
      {user ? <ChangeRoleForm key={user.id} user={user} titleId={titleId} onClose={onClose} /> : null}
    </Modal>
  );
}

function ChangeRoleForm({ user, titleId, onClose }: { user: UserJson; titleId: string; onClose: () => void }) {
  const qc = useQueryClient();
  const assigned = hasRole(user.assignedRole) ? user.assignedRole : RULES;
  const [choice, setChoice] = useState<RoleJson>(assigned === RULES ? (hasRole(user.role) ? user.role : 'ROLE_VIEWER') : assigned);
  // The user as the admin last saw it: what the change is based on.
  const [base, setBase] = useState<UserJson>(user);
  const changedMeanwhile = (user.etag ?? '') !== (base.etag ?? '');
  const mutation = useMutation({
    mutationFn: () => setUserRole(base.id ?? '', { role: choice, etag: base.etag ?? '' }),
    onSuccess: (res) => {
      if (res.user) {
        userChanged(qc, res.user);
      }
      void qc.invalidateQueries({ queryKey: identityKeys.users() });
      toast({
        tone: 'success',
        title:
          choice === RULES
            ? `${userName(base)} is back on the role rules`
            : `${userName(base)} is now ${roleLabel(choice)}`,
      });
      onClose();
    },
    onError: (err) => {
      if (isStale(err)) {
        // Re-read, so the dialog shows the new state to confirm against.
        void qc.invalidateQueries({ queryKey: identityKeys.users() });
      }
    },
  });
  const stale = isStale(mutation.error);
  const baseAssigned = hasRole(base.assignedRole) ? base.assignedRole : RULES;
  const unchanged = choice === baseAssigned;
  const name = userName(base);
  return (
    <form
      className="modal-body"
      onSubmit={(e) => {
        e.preventDefault();
        mutation.mutate();
      }}
    >
      <h2 id={titleId} className="modal-title">
        Change the role of {name}
      </h2>
      <p className="muted">
        {base.email} is <strong className="admin-strong">{roleLabel(base.role)}</strong> ({roleSource(base)}).
        {isDevUser(base) ? ' A development login chooses its role at login, over any assignment.' : null}
      </p>
      <fieldset className="admin-choices">
        <legend>New role</legend>
        {ROLES.map((r) => (
          <label key={r.value} className="admin-choice">
            <input
              type="radio"
              name="role"
              value={r.value}
              checked={choice === r.value}
              onChange={() => {
                setChoice(r.value);
              }}
            />
            {r.label}
          </label>
        ))}
        {baseAssigned !== RULES ? (
          <label className="admin-choice">
            <input
              type="radio"
              name="role"
              value={RULES}
              checked={choice === RULES}
              onChange={() => {
                setChoice(RULES);
              }}
            />
            back to the role rules (they give {hasRole(base.mappedRole) ? roleLabel(base.mappedRole) : 'no role'})
          </label>
        ) : null}
      </fieldset>
      {changedMeanwhile ? (
        <div className="error-box" role="alert">
          {name} was changed by someone else meanwhile: now {roleLabel(user.role)} ({roleSource(user)}).{' '}
          <button
            type="button"
            className="button"
            onClick={() => {
              mutation.reset();
              setBase(user);
            }}
          >
            Review the new state
          </button>
        </div>
      ) : stale ? (
        <div className="error-box" role="alert">
          {name} was changed by someone else since you opened this: reloading…
        </div>
      ) : (
        <ErrorMessage error={mutation.error} title="Refused" />
      )}
      <div className="modal-actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button
          type="submit"
          className="button button-primary"
          disabled={mutation.isPending || unchanged || changedMeanwhile || stale}
        >
          {mutation.isPending ? 'Saving…' : 'Change role'}
        </button>
      </div>
    </form>
  );
}
