// The audit search form. It edits a draft; submitting (Enter in any field,
// or the button) hands the whole search to the page, which keeps it in the
// URL. The page remounts it (key) when the URL changes, so the draft always
// starts from what is searched.
import { useState } from 'react';
import { isApiError } from '../../api/client';
import {
  EMPTY_FILTERS,
  KNOWN_ACTIONS,
  localInputToRFC3339,
  OUTCOMES,
  rfc3339ToLocalInput,
  type AuditFilters,
} from './model';

interface Draft {
  actor: string;
  action: string;
  resource: string;
  outcome: string;
  /** datetime-local values (local time). */
  from: string;
  to: string;
  q: string;
}

function draftOf(f: AuditFilters): Draft {
  return { ...f, from: rfc3339ToLocalInput(f.from), to: rfc3339ToLocalInput(f.to) };
}

function filtersOf(d: Draft): AuditFilters {
  return {
    actor: d.actor.trim(),
    action: d.action.trim(),
    resource: d.resource.trim(),
    outcome: d.outcome,
    from: localInputToRFC3339(d.from) ?? '',
    to: localInputToRFC3339(d.to) ?? '',
    q: d.q.trim(),
  };
}

export function AuditSearchForm({
  initial,
  error,
  onSearch,
}: {
  initial: AuditFilters;
  /** The last search's failure, for the fields it names. */
  error: unknown;
  onSearch: (f: AuditFilters) => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(initial));
  const fieldError = (field: string) => (isApiError(error) ? error.fieldError(field) : undefined);
  const startError = fieldError('start_time');
  const endError = fieldError('end_time');

  // Action and text take a phone's whole width: event types are long.
  const text = (key: 'actor' | 'action' | 'resource' | 'q', label: string, props: { placeholder: string; list?: string }) => (
    <label className={key === 'action' || key === 'q' ? 'audit-field audit-field-wide' : 'audit-field'}>
      <span>{label}</span>
      <input
        className="input"
        type={key === 'q' ? 'search' : 'text'}
        name={key}
        maxLength={key === 'q' ? 200 : key === 'resource' ? 512 : 256}
        value={draft[key]}
        onChange={(e) => {
          setDraft((d) => ({ ...d, [key]: e.target.value }));
        }}
        autoComplete="off"
        spellCheck={false}
        {...props}
      />
    </label>
  );

  return (
    <form
      className="audit-form"
      role="search"
      aria-label="Search the audit log"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch(filtersOf(draft));
      }}
    >
      <div className="audit-fields">
        {text('actor', 'Actor', { placeholder: 'dev:olga@example.com' })}
        {text('action', 'Action', { placeholder: 'portal.agents.v1.AgentStateChanged', list: 'audit-actions' })}
        <datalist id="audit-actions">
          {KNOWN_ACTIONS.map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        {text('resource', 'Resource prefix', { placeholder: 'agents/…' })}
        <label className="audit-field">
          <span>Outcome</span>
          <select
            className="input"
            name="outcome"
            value={draft.outcome}
            onChange={(e) => {
              setDraft((d) => ({ ...d, outcome: e.target.value }));
            }}
          >
            <option value="">Any outcome</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <div className="audit-field audit-field-wide">
          <label htmlFor="audit-from">From</label>
          <input
            id="audit-from"
            className="input"
            type="datetime-local"
            name="from"
            value={draft.from}
            aria-invalid={startError ? true : undefined}
            aria-describedby={startError ? 'audit-from-error' : undefined}
            onChange={(e) => {
              setDraft((d) => ({ ...d, from: e.target.value }));
            }}
          />
          {startError ? (
            <span id="audit-from-error" className="audit-field-error">
              {startError}
            </span>
          ) : null}
        </div>
        <div className="audit-field audit-field-wide">
          <label htmlFor="audit-to">To</label>
          <input
            id="audit-to"
            className="input"
            type="datetime-local"
            name="to"
            value={draft.to}
            aria-invalid={endError ? true : undefined}
            aria-describedby={endError ? 'audit-to-error' : undefined}
            onChange={(e) => {
              setDraft((d) => ({ ...d, to: e.target.value }));
            }}
          />
          {endError ? (
            <span id="audit-to-error" className="audit-field-error">
              {endError}
            </span>
          ) : null}
        </div>
        {text('q', 'Text', { placeholder: 'words, "a phrase", -excluded' })}
      </div>
      <div className="audit-form-actions">
        <button type="submit" className="button button-primary">
          Search
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            setDraft(draftOf(EMPTY_FILTERS));
            onSearch(EMPTY_FILTERS);
          }}
        >
          Reset
        </button>
        <span className="small muted">Times are in your local time zone.</span>
      </div>
    </form>
  );
}
