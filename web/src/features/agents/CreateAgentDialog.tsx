// CreateAgentDialog registers a new agent (it starts in DRAFT): name, kind,
// tier, version, owner, customer, labels and how it runs. The server
// validates; its field violations show next to the fields they name.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type ReactNode } from 'react';
import { useNavigate } from 'react-router';
import { createAgent } from '../../api/agents';
import { isApiError } from '../../api/client';
import { CUSTOMER_LABEL } from '../../app/scope';
import type { AgentJson, AgentKindJson, AgentTierJson } from '../../gen/portal/agents/v1/agents_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { Modal } from '../../ui/Modal';
import { toast } from '../../ui/toast';
import { agentKeys } from './queries';

const KINDS: { value: AgentKindJson; label: string }[] = [
  { value: 'AGENT_KIND_MEMORY', label: 'Memory' },
  { value: 'AGENT_KIND_ORCHESTRATION', label: 'Orchestration' },
  { value: 'AGENT_KIND_API', label: 'API integration' },
  { value: 'AGENT_KIND_DATA', label: 'Data pipeline' },
  { value: 'AGENT_KIND_MONITORING', label: 'Monitoring' },
  { value: 'AGENT_KIND_BLANK', label: 'Blank' },
];

const TIERS: { value: AgentTierJson; label: string }[] = [
  { value: 'AGENT_TIER_DEVELOPMENT', label: 'Development' },
  { value: 'AGENT_TIER_STANDARD', label: 'Standard' },
  { value: 'AGENT_TIER_CRITICAL', label: 'Critical' },
];

const LABEL_PART = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/**
 * parseLabels reads "team=ml, env=prod" (commas or new lines). It returns
 * the labels, or the first problem in words.
 */
export function parseLabels(text: string): { labels: Record<string, string> } | { error: string } {
  const labels: Record<string, string> = {};
  for (const raw of text.split(/[,\n]/)) {
    const part = raw.trim();
    if (!part) {
      continue;
    }
    const eq = part.indexOf('=');
    if (eq <= 0) {
      return { error: `"${part}" is not key=value` };
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key.length > 63 || !LABEL_PART.test(key)) {
      return { error: `"${key}" is not a label key: letters, digits, . _ - inside, at most 63` };
    }
    if (value !== '' && (value.length > 63 || !LABEL_PART.test(value))) {
      return { error: `"${value}" is not a label value: letters, digits, . _ - inside, at most 63` };
    }
    if (key in labels) {
      return { error: `label "${key}" is given twice` };
    }
    labels[key] = value;
  }
  return { labels };
}

interface Draft {
  name: string;
  displayName: string;
  kind: AgentKindJson;
  tier: AgentTierJson;
  version: string;
  owner: string;
  customer: string;
  labels: string;
  description: string;
  driver: string;
  replicas: number;
}

const EMPTY: Draft = {
  name: '',
  displayName: '',
  kind: 'AGENT_KIND_DATA',
  tier: 'AGENT_TIER_STANDARD',
  version: '',
  owner: '',
  customer: '',
  labels: '',
  description: '',
  driver: 'process',
  replicas: 1,
};

export function CreateAgentDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const titleId = useId();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [localError, setLocalError] = useState<string | undefined>();
  const mutation = useMutation({
    mutationFn: (agent: AgentJson) => createAgent(agent),
    onSuccess: (res) => {
      void qc.invalidateQueries({ queryKey: agentKeys.lists() });
      toast({ title: `Agent ${res.agent?.name ?? ''} created`, description: 'It is in DRAFT: provision it next.', tone: 'success' });
      close();
      if (res.agent?.id) {
        void navigate(`/agents/${res.agent.id}`);
      }
    },
  });
  const close = () => {
    mutation.reset();
    setDraft(EMPTY);
    setLocalError(undefined);
    onClose();
  };
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => {
    setDraft((d) => ({ ...d, [k]: v }));
  };
  const fieldError = (field: string): string | undefined =>
    isApiError(mutation.error) ? mutation.error.fieldError(`agent.${field}`) : undefined;

  const submit = () => {
    setLocalError(undefined);
    const parsed = parseLabels(draft.labels);
    if ('error' in parsed) {
      setLocalError(`Labels: ${parsed.error}`);
      return;
    }
    const labels = { ...parsed.labels };
    if (draft.customer.trim()) {
      labels[CUSTOMER_LABEL] = draft.customer.trim();
    }
    mutation.mutate({
      name: draft.name.trim(),
      displayName: draft.displayName.trim() || undefined,
      kind: draft.kind,
      tier: draft.tier,
      version: draft.version.trim() || undefined,
      owner: draft.owner.trim() || undefined,
      description: draft.description.trim() || undefined,
      labels,
      runtime: { driver: draft.driver, replicas: draft.replicas },
    });
  };

  return (
    <Modal open={open} onClose={close} labelledBy={titleId} size="lg">
      {open ? (
        <form
          className="modal-body create-agent"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <h2 id={titleId} className="modal-title">
            New agent
          </h2>
          <div className="form-grid">
            <Field label="Name" hint="lower case, digits and -, e.g. invoice-reader" error={fieldError('name')}>
              {(id, describedBy) => (
                <input
                  id={id}
                  aria-describedby={describedBy}
                  className="input mono"
                  required
                  maxLength={63}
                  autoComplete="off"
                  value={draft.name}
                  onChange={(e) => {
                    set('name', e.target.value);
                  }}
                />
              )}
            </Field>
            <Field label="Display name" error={fieldError('display_name')}>
              {(id, describedBy) => (
                <input
                  id={id}
                  aria-describedby={describedBy}
                  className="input"
                  maxLength={200}
                  value={draft.displayName}
                  onChange={(e) => {
                    set('displayName', e.target.value);
                  }}
                />
              )}
            </Field>
            <Field label="Kind" error={fieldError('kind')}>
              {(id) => (
                <select
                  id={id}
                  className="input"
                  value={draft.kind}
                  onChange={(e) => {
                    set('kind', e.target.value as AgentKindJson);
                  }}
                >
                  {KINDS.map((k) => (
                    <option key={k.value} value={k.value}>
                      {k.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Tier" error={fieldError('tier')}>
              {(id) => (
                <select
                  id={id}
                  className="input"
                  value={draft.tier}
                  onChange={(e) => {
                    set('tier', e.target.value as AgentTierJson);
                  }}
                >
                  {TIERS.map((t) => (
                    <option key={t.value} value={t.value}>
                      {t.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Version" hint="e.g. 1.4.2; the platform's default when empty" error={fieldError('version')}>
              {(id, describedBy) => (
                <input
                  id={id}
                  aria-describedby={describedBy}
                  className="input mono"
                  maxLength={64}
                  value={draft.version}
                  onChange={(e) => {
                    set('version', e.target.value);
                  }}
                />
              )}
            </Field>
            <Field label="Owner" error={fieldError('owner')}>
              {(id) => (
                <input
                  id={id}
                  className="input"
                  maxLength={200}
                  value={draft.owner}
                  onChange={(e) => {
                    set('owner', e.target.value);
                  }}
                />
              )}
            </Field>
            <Field label="Customer" hint={`kept as the label ${CUSTOMER_LABEL}=…`}>
              {(id, describedBy) => (
                <input
                  id={id}
                  aria-describedby={describedBy}
                  className="input mono"
                  maxLength={63}
                  value={draft.customer}
                  onChange={(e) => {
                    set('customer', e.target.value);
                  }}
                />
              )}
            </Field>
            <Field label="Labels" hint="key=value, separated by commas" error={fieldError('labels')}>
              {(id, describedBy) => (
                <input
                  id={id}
                  aria-describedby={describedBy}
                  className="input mono"
                  maxLength={4000}
                  value={draft.labels}
                  onChange={(e) => {
                    set('labels', e.target.value);
                  }}
                />
              )}
            </Field>
            <Field label="Runs as" error={fieldError('runtime.driver')}>
              {(id) => (
                <select
                  id={id}
                  className="input"
                  value={draft.driver}
                  onChange={(e) => {
                    set('driver', e.target.value);
                  }}
                >
                  <option value="process">Local process</option>
                  <option value="docker">Docker container</option>
                  <option value="kubernetes">Kubernetes workload</option>
                </select>
              )}
            </Field>
            <Field label="Instances" error={fieldError('runtime.replicas')}>
              {(id) => (
                <input
                  id={id}
                  className="input"
                  type="number"
                  min={0}
                  max={50}
                  value={draft.replicas}
                  onChange={(e) => {
                    set('replicas', Number(e.target.value));
                  }}
                />
              )}
            </Field>
          </div>
          <Field label="Description" error={fieldError('description')}>
            {(id) => (
              <textarea
                id={id}
                className="input"
                rows={2}
                maxLength={2000}
                value={draft.description}
                onChange={(e) => {
                  set('description', e.target.value);
                }}
              />
            )}
          </Field>
          {localError ? (
            <div className="error-box" role="alert">
              {localError}
            </div>
          ) : (
            <ErrorMessage error={mutation.error} title="Not created" />
          )}
          <div className="modal-actions">
            <button type="button" className="button" onClick={close}>
              Cancel
            </button>
            <button type="submit" className="button button-primary" disabled={mutation.isPending}>
              {mutation.isPending ? 'Creating…' : 'Create agent'}
            </button>
          </div>
        </form>
      ) : null}
    </Modal>
  );
}

function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string;
  error?: string;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errId = `${id}-err`;
  const describedBy = [hint ? hintId : '', error ? errId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id, describedBy)}
      {hint ? (
        <span id={hintId} className="muted small">
          {hint}
        </span>
      ) : null}
      {error ? (
        <span id={errId} className="field-error">
          {error}
        </span>
      ) : null}
    </div>
  );
}
