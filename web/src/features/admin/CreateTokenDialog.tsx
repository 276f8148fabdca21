import { useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState } from 'react';
import { createToken } from '../../api/admin';
import { isApiError } from '../../api/client';
import type { RoleJson } from '../../gen/portal/auth/v1/auth_pb';
import type { TokenJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { formatTime } from '../../ui/format';
import { Modal } from '../../ui/Modal';
import { toast } from '../../ui/toast';
import { fieldErrors, roleLabel, ROLES } from './model';
import { identityKeys } from './queries';

/** How long a token may live (the server allows 60 s to 366 days, or no expiry). */
export const TTLS: { value: string; label: string }[] = [
  { value: '86400s', label: '1 day' },
  { value: '604800s', label: '7 days' },
  { value: '2592000s', label: '30 days' },
  { value: '7776000s', label: '90 days' },
  { value: '31536000s', label: '1 year' },
  { value: '', label: 'No expiry' },
];

const FIELD_LABELS: Record<string, string> = { name: 'the name', role: 'the role', ttl: 'the expiry' };

/**
 * CreateTokenDialog creates an API token and then shows its secret, once.
 * The secret lives in this dialog's state only: not in the query cache (the
 * call is made without useMutation, whose cache would keep the response),
 * not in any storage, and it is gone when the dialog closes.
 */
export function CreateTokenDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const titleId = useId();
  return (
    <Modal open={open} onClose={onClose} labelledBy={titleId}>
      {open ? <CreateTokenForm titleId={titleId} onClose={onClose} /> : null}
    </Modal>
  );
}

function CreateTokenForm({ titleId, onClose }: { titleId: string; onClose: () => void }) {
  const qc = useQueryClient();
  const ids = { name: useId(), role: useId(), ttl: useId() };
  const [name, setName] = useState('');
  const [role, setRole] = useState<RoleJson>('ROLE_VIEWER');
  const [ttl, setTtl] = useState('2592000s');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<{ token: TokenJson; secret: string } | undefined>();

  if (created) {
    return <SecretView titleId={titleId} token={created.token} secret={created.secret} onClose={onClose} />;
  }

  const fields = fieldErrors(error);
  if (isApiError(error) && error.reason === 'TOKEN_NAME_TAKEN' && !('name' in fields)) {
    fields.name = error.message;
  }
  const anyField = Object.keys(fields).length > 0;
  const fieldError = (f: 'name' | 'role' | 'ttl', id: string) =>
    fields[f] ? (
      <span id={`${id}-error`} className="field-error">
        {fields[f]}
      </span>
    ) : null;

  return (
    <form
      className="modal-body"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setPending(true);
        setError(undefined);
        createToken({ name: name.trim(), role, ttl: ttl || undefined })
          .then((res) => {
            void qc.invalidateQueries({ queryKey: identityKeys.tokens() });
            const token = res.token ?? {};
            toast({ tone: 'success', title: `Token ${token.name ?? name} created` });
            setCreated({ token, secret: res.secret ?? '' });
          })
          .catch((err: unknown) => {
            setError(err);
          })
          .finally(() => {
            setPending(false);
          });
      }}
    >
      <h2 id={titleId} className="modal-title">
        Create an API token
      </h2>
      <p className="muted">A script sends the token as “Authorization: Bearer …” and acts with its role.</p>
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input
          id={ids.name}
          className="input"
          value={name}
          autoComplete="off"
          aria-invalid={fields.name ? true : undefined}
          aria-describedby={fields.name ? `${ids.name}-error` : `${ids.name}-hint`}
          onChange={(e) => {
            setName(e.target.value);
          }}
        />
        {fields.name ? (
          fieldError('name', ids.name)
        ) : (
          <span id={`${ids.name}-hint`} className="small muted">
            Letters, digits, “.”, “_” or “-”, starting with a letter or digit.
          </span>
        )}
      </div>
      <div className="field">
        <label htmlFor={ids.role}>Role</label>
        <select
          id={ids.role}
          className="input"
          value={role}
          aria-invalid={fields.role ? true : undefined}
          aria-describedby={fields.role ? `${ids.role}-error` : undefined}
          onChange={(e) => {
            setRole(e.target.value as RoleJson);
          }}
        >
          {ROLES.map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </select>
        {fieldError('role', ids.role)}
      </div>
      <div className="field">
        <label htmlFor={ids.ttl}>Expires after</label>
        <select
          id={ids.ttl}
          className="input"
          value={ttl}
          aria-invalid={fields.ttl ? true : undefined}
          aria-describedby={fields.ttl ? `${ids.ttl}-error` : undefined}
          onChange={(e) => {
            setTtl(e.target.value);
          }}
        >
          {TTLS.map((t) => (
            <option key={t.label} value={t.value}>
              {t.label}
            </option>
          ))}
        </select>
        {fieldError('ttl', ids.ttl)}
      </div>
      {anyField ? (
        <div className="error-box" role="alert">
          Not created: check {Object.keys(fields).map((f) => FIELD_LABELS[f] ?? f).join(', ')}.
        </div>
      ) : (
        <ErrorMessage error={error} title="Not created" />
      )}
      <div className="modal-actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={pending}>
          {pending ? 'Creating…' : 'Create token'}
        </button>
      </div>
    </form>
  );
}

function SecretView({
  titleId,
  token,
  secret,
  onClose,
}: {
  titleId: string;
  token: TokenJson;
  secret: string;
  onClose: () => void;
}) {
  const secretId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [copy, setCopy] = useState<'copied' | 'select' | undefined>();
  const selectSecret = () => {
    input.current?.focus();
    input.current?.select();
  };
  return (
    <div className="modal-body">
      <h2 id={titleId} className="modal-title">
        Token {token.name} created
      </h2>
      <p className="admin-warning">
        <strong>Copy the secret now.</strong> It is shown this once and cannot be shown again: the portal keeps only a
        hash of it.
      </p>
      <div className="field">
        <label htmlFor={secretId}>Secret</label>
        <div className="admin-secret">
          <input
            id={secretId}
            ref={input}
            className="input mono admin-secret-input"
            readOnly
            value={secret}
            spellCheck={false}
            onFocus={(e) => {
              e.currentTarget.select();
            }}
          />
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              // The clipboard API needs a secure context and the page's
              // permission; without it, select the text for Ctrl+C.
              const clip = (navigator as Partial<Navigator>).clipboard;
              if (!clip) {
                selectSecret();
                setCopy('select');
                return;
              }
              clip.writeText(secret).then(
                () => {
                  setCopy('copied');
                },
                () => {
                  selectSecret();
                  setCopy('select');
                },
              );
            }}
          >
            Copy
          </button>
        </div>
        <span className="small" role="status">
          {copy === 'copied'
            ? 'Copied to the clipboard.'
            : copy === 'select'
              ? 'Cannot reach the clipboard: the secret is selected, press Ctrl+C (⌘C) to copy it.'
              : ''}
        </span>
      </div>
      <dl className="facts admin-facts">
        <div className="facts-row">
          <dt>Role</dt>
          <dd>{roleLabel(token.role)}</dd>
        </div>
        <div className="facts-row">
          <dt>Expires</dt>
          <dd>{token.expireTime ? formatTime(token.expireTime) : 'never (until revoked)'}</dd>
        </div>
        <div className="facts-row">
          <dt>Use it as</dt>
          <dd className="mono admin-break">Authorization: Bearer &lt;secret&gt;</dd>
        </div>
      </dl>
      <div className="modal-actions">
        <button type="button" className="button" onClick={onClose}>
          Done
        </button>
      </div>
    </div>
  );
}
