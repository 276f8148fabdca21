// Asking for a temporary higher role, for anyone signed in: the dialog (the
// header opens it) and the caller's own grants.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { requestGrant } from '../../api/admin';
import { useRole } from '../../app/context';
import type { RoleJson } from '../../gen/portal/auth/v1/auth_pb';
import type { GrantJson, GrantStateJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { Modal } from '../../ui/Modal';
import { toast } from '../../ui/toast';
import './admin.css';
import { fieldErrors, formatDuration, grantState, grantStateInfo, roleLabel, roleRank, ROLES, timeLeft } from './model';
import { Pill, When } from './parts';
import { useNow } from '../../ui/clock';
import { grantsQuery, identityKeys, meQuery, useIdentityEvents } from './queries';

/** How long one may ask for (the server allows up to 12 h). */
export const GRANT_DURATIONS: { value: string; label: string }[] = [
  { value: '900s', label: '15 minutes' },
  { value: '1800s', label: '30 minutes' },
  { value: '3600s', label: '1 hour' },
  { value: '7200s', label: '2 hours' },
  { value: '14400s', label: '4 hours' },
  { value: '28800s', label: '8 hours' },
  { value: '43200s', label: '12 hours' },
];

const ROLE_RANK_OF_APP = { none: 0, viewer: 1, operator: 2, admin: 3 } as const;

/**
 * RequestGrantDialog lets the signed-in user ask for a role above their own
 * (their base role: grants do not count) for a while and a reason; an admin
 * approves or denies it. Their own grants are listed below.
 */
export function RequestGrantDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const titleId = useId();
  return (
    <Modal open={open} onClose={onClose} labelledBy={titleId}>
      {open ? <RequestForm titleId={titleId} onClose={onClose} /> : null}
    </Modal>
  );
}

function RequestForm({ titleId, onClose }: { titleId: string; onClose: () => void }) {
  const qc = useQueryClient();
  const appRole = useRole();
  const me = useQuery(meQuery());
  const ids = { role: useId(), reason: useId(), duration: useId() };
  // The base role decides what is higher (the server compares with it); the
  // effective one stands in until GET /api/v1/me answers.
  const baseRank = me.data?.principal ? roleRank(me.data.principal.baseRole) : ROLE_RANK_OF_APP[appRole];
  const higher = ROLES.filter((r) => roleRank(r.value) > baseRank && r.value !== 'ROLE_VIEWER');
  const [role, setRole] = useState<RoleJson | undefined>();
  const chosenRole = role ?? higher[0]?.value;
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState('3600s');
  const [missingReason, setMissingReason] = useState(false);

  const mutation = useMutation({
    mutationFn: (r: RoleJson) => requestGrant({ role: r, reason: reason.trim(), duration }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: identityKeys.grants() });
      void qc.invalidateQueries({ queryKey: identityKeys.me() });
      toast({ tone: 'success', title: 'Requested; an admin must approve it' });
      onClose();
    },
  });
  const fields = fieldErrors(mutation.error);
  const reasonError = missingReason ? 'Say why you need it.' : fields.reason;
  const anyField = Object.keys(fields).length > 0;

  return (
    <div className="modal-body">
      <h2 id={titleId} className="modal-title">
        Request access
      </h2>
      {me.isPending ? (
        <p className="muted">Checking your role…</p>
      ) : higher.length === 0 || chosenRole === undefined ? (
        <p>
          You have the {roleLabel(me.data?.principal?.baseRole ?? 'ROLE_ADMIN')} role already: there is no higher role to
          ask for.
        </p>
      ) : (
        <form
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            if (reason.trim() === '') {
              setMissingReason(true);
              return;
            }
            mutation.mutate(chosenRole);
          }}
        >
          <p className="muted">
            Your role is {roleLabel(me.data?.principal?.baseRole)}. Ask for a higher one for a while: an admin approves
            or denies it, and it ends by itself.
          </p>
          <div className="field">
            <label htmlFor={ids.role}>Role</label>
            <select
              id={ids.role}
              className="input"
              value={chosenRole}
              aria-invalid={fields.role ? true : undefined}
              aria-describedby={fields.role ? `${ids.role}-error` : undefined}
              onChange={(e) => {
                setRole(e.target.value as RoleJson);
              }}
            >
              {higher.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
            {fields.role ? (
              <span id={`${ids.role}-error`} className="field-error">
                {fields.role}
              </span>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor={ids.reason}>Reason (required)</label>
            <textarea
              id={ids.reason}
              className="input"
              rows={3}
              value={reason}
              maxLength={500}
              aria-invalid={reasonError ? true : undefined}
              aria-describedby={reasonError ? `${ids.reason}-error` : undefined}
              onChange={(e) => {
                setReason(e.target.value);
                setMissingReason(false);
              }}
            />
            {reasonError ? (
              <span id={`${ids.reason}-error`} className="field-error">
                {reasonError}
              </span>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor={ids.duration}>For</label>
            <select
              id={ids.duration}
              className="input"
              value={duration}
              aria-invalid={fields.duration ? true : undefined}
              aria-describedby={fields.duration ? `${ids.duration}-error` : undefined}
              onChange={(e) => {
                setDuration(e.target.value);
              }}
            >
              {GRANT_DURATIONS.map((d) => (
                <option key={d.value} value={d.value}>
                  {d.label}
                </option>
              ))}
            </select>
            {fields.duration ? (
              <span id={`${ids.duration}-error`} className="field-error">
                {fields.duration}
              </span>
            ) : null}
          </div>
          {anyField ? (
            <div className="error-box" role="alert">
              Not requested: check the marked field{Object.keys(fields).length > 1 ? 's' : ''}.
            </div>
          ) : (
            <ErrorMessage error={mutation.error} title="Not requested" />
          )}
          <div className="modal-actions">
            <button type="button" className="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="button button-primary" disabled={mutation.isPending}>
              {mutation.isPending ? 'Requesting…' : 'Request'}
            </button>
          </div>
        </form>
      )}
      {higher.length === 0 ? (
        <div className="modal-actions">
          <button type="button" className="button" onClick={onClose}>
            Close
          </button>
        </div>
      ) : null}
      <MyGrants />
    </div>
  );
}

/**
 * MyGrants lists the signed-in user's own grants, newest first. GET
 * /api/v1/grants gives anyone but an admin only their own; an admin gets
 * everyone's, so the list keeps the caller's (from the first 50). Only admins
 * are sent identity events, so it re-reads whenever it is shown.
 */
export function MyGrants() {
  const headingId = useId();
  const me = useQuery(meQuery());
  const list = useQuery({ ...grantsQuery({ pageSize: 50 }), refetchOnMount: 'always' });
  useIdentityEvents('grants');
  const subject = me.data?.principal?.subject;
  const mine = subject ? (list.data?.grants ?? []).filter((g) => g.userId === subject) : [];
  const now = useNow(mine.some((g) => g.state === 'GRANT_STATE_ACTIVE') ? 1000 : 0);
  return (
    <section className="my-grants" aria-labelledby={headingId}>
      <h3 id={headingId}>Your grants</h3>
      <ErrorMessage error={list.error ?? me.error} title="Cannot list your grants" />
      {list.isPending || me.isPending ? (
        <p className="muted">Loading…</p>
      ) : mine.length === 0 ? (
        <p className="muted">You have not asked for any.</p>
      ) : (
        <ul className="my-grants-list">
          {mine.map((g) => (
            <MyGrant key={g.id} grant={g} now={now} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** What the decider did: a grant that is active or ran out was approved. */
function decisionVerb(st: GrantStateJson): string {
  switch (st) {
    case 'GRANT_STATE_DENIED':
      return 'denied';
    case 'GRANT_STATE_REVOKED':
      return 'revoked';
    default:
      return 'approved';
  }
}

function MyGrant({ grant: g, now }: { grant: GrantJson; now: number }) {
  const st = grantState(g, now);
  const info = grantStateInfo(st);
  const left = st === 'GRANT_STATE_ACTIVE' ? timeLeft(g.expireTime, now) : '';
  return (
    <li className="my-grant">
      <div className="my-grant-head">
        <span className="badge">{roleLabel(g.role)}</span>
        <span>for {formatDuration(g.duration)}</span>
        <Pill tone={info.tone}>{info.label}</Pill>
        {left ? <span className="small admin-left">{left} left</span> : null}
      </div>
      <div className="small muted">
        Requested <When t={g.requestTime} />
        {g.decidedBy ? ` · ${decisionVerb(st)} by ${g.decidedBy}` : ''}
      </div>
      {g.reason ? <div className="small admin-reason">“{g.reason}”</div> : null}
      {g.decisionReason ? <div className="small admin-reason">Note: “{g.decisionReason}”</div> : null}
    </li>
  );
}
