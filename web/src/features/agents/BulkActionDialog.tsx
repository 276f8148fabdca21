// BulkActionDialog runs one lifecycle action on the selected agents: it
// previews the impact (which agents change and to what, which are skipped and
// why), sends one bulk request, then follows the operation live from its
// BulkOperationProgress events until the summary.
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState } from 'react';
import { bulkAction, getBulkOperation, type AgentActionName } from '../../api/agents';
import type { StreamEvent } from '../../api/ws';
import { useStream } from '../../app/context';
import type { AgentJson, BulkOperationJson, BulkResultJson } from '../../gen/portal/agents/v1/agents_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { Modal } from '../../ui/Modal';
import { ProgressTracker, type ProgressStep } from '../../ui/ProgressTracker';
import { toast } from '../../ui/toast';
import {
  actionEnum,
  isFinished,
  mergeBulk,
  previewBulk,
  stepStatus,
  summaryText,
  transitionsSummary,
  type BulkView,
} from './bulk';
import { agentKeys } from './queries';
import { actionLabel } from './states';

const PROGRESS_TYPE = 'portal.agents.v1.BulkOperationProgress';

interface ProgressData {
  bulkOperation?: BulkOperationJson;
  result?: BulkResultJson;
}

const PRESENT: Record<AgentActionName, string> = {
  provision: 'Provisioning',
  deploy: 'Deploying',
  start: 'Starting',
  stop: 'Stopping',
  suspend: 'Suspending',
  resume: 'Resuming',
  restart: 'Restarting',
  revoke: 'Revoking',
};

function plural(n: number, one: string): string {
  return `${String(n)} ${one}${n === 1 ? '' : 's'}`;
}

export function BulkActionDialog({
  agents,
  action,
  onClose,
  onFinished,
}: {
  agents: readonly AgentJson[];
  action: AgentActionName | undefined;
  onClose: () => void;
  /** The operation ended (the selection can be cleared). */
  onFinished?: (op: BulkOperationJson) => void;
}) {
  const titleId = useId();
  const stream = useStream();
  const qc = useQueryClient();
  const [reason, setReason] = useState('');
  const [rollback, setRollback] = useState(false);
  const [parallelism, setParallelism] = useState(5);
  const [error, setError] = useState<unknown>(undefined);
  const [sending, setSending] = useState(false);
  const [view, setView] = useState<BulkView | undefined>(undefined);
  const [startedAt, setStartedAt] = useState<number | undefined>(undefined);
  const unsubscribe = useRef<(() => void) | undefined>(undefined);
  const finishedRef = useRef(false);

  // Stop following when the dialog goes away.
  useEffect(
    () => () => {
      unsubscribe.current?.();
    },
    [],
  );

  const op = view?.op;
  const finished = op ? isFinished(op) : false;
  useEffect(() => {
    if (op && finished && !finishedRef.current) {
      finishedRef.current = true;
      unsubscribe.current?.();
      unsubscribe.current = undefined;
      void qc.invalidateQueries({ queryKey: agentKeys.all });
      toast({
        title: `Bulk ${action ?? ''} finished`,
        description: summaryText(op),
        tone: op.status === 'BULK_STATUS_SUCCEEDED' ? 'success' : 'error',
      });
      onFinished?.(op);
    }
  }, [op, finished, qc, action, onFinished]);

  if (!action) {
    return null;
  }
  const preview = previewBulk(agents, action);
  const label = actionLabel(action);

  const reset = () => {
    unsubscribe.current?.();
    unsubscribe.current = undefined;
    finishedRef.current = false;
    setView(undefined);
    setStartedAt(undefined);
    setError(undefined);
    setReason('');
    setRollback(false);
    setSending(false);
  };
  const close = () => {
    if (op && !finished) {
      toast({ title: `Bulk ${action} still running`, description: 'It goes on without this dialog; the agents update live.' });
    }
    reset();
    onClose();
  };

  const start = async () => {
    setSending(true);
    setError(undefined);
    // Follow every bulk operation before asking for ours: its first events
    // may come before the answer. They wait here until we know our id.
    const early: ProgressData[] = [];
    let id: string | undefined;
    const apply = (d: ProgressData) => {
      if (d.bulkOperation) {
        const o = d.bulkOperation;
        setView((v) => mergeBulk(v, o, d.result ? [d.result] : []));
      }
    };
    unsubscribe.current?.();
    const stop = stream.subscribe('bulkOperations', (e: StreamEvent) => {
      if (e.eventType !== PROGRESS_TYPE) {
        return;
      }
      const d = e.data as ProgressData | undefined;
      if (!d?.bulkOperation) {
        return;
      }
      if (id === undefined) {
        early.push(d);
      } else if (d.bulkOperation.id === id) {
        apply(d);
      }
    });
    unsubscribe.current = stop;
    try {
      const res = await bulkAction({
        action: actionEnum(action),
        agentIds: agents.map((a) => a.id ?? '').filter(Boolean),
        parallelism,
        rollbackThreshold: rollback ? 0.5 : 0,
        reason: reason.trim(),
      });
      const started = res.bulkOperation;
      if (!started?.id) {
        throw new Error('the server did not return the bulk operation');
      }
      id = started.id;
      setStartedAt(Date.now());
      setView(mergeBulk(undefined, started, started.results ?? []));
      for (const d of early) {
        if (d.bulkOperation?.id === id) {
          apply(d);
        }
      }
      // Anything that happened before our subscription took effect.
      const now = await getBulkOperation(id);
      if (now.bulkOperation) {
        const o = now.bulkOperation;
        setView((v) => mergeBulk(v, o, o.results ?? []));
      }
    } catch (err) {
      if (id === undefined) {
        stop();
        unsubscribe.current = undefined;
        setError(err);
      }
      // A failed re-read after the start is not fatal: the events go on.
    } finally {
      setSending(false);
    }
  };

  const steps: ProgressStep[] = agents.map((a) => {
    const r = a.id ? view?.results.get(a.id) : undefined;
    return {
      id: a.id ?? '',
      label: a.displayName ?? a.name ?? a.id ?? '',
      status: stepStatus(r?.outcome),
      detail: r?.reason === '' ? undefined : r?.reason,
    };
  });
  const transitions = transitionsSummary(preview);
  return (
    <Modal open onClose={close} labelledBy={titleId} size="lg">
      <div className="modal-body bulk-dialog">
        <h2 id={titleId} className="modal-title">
          {label} {plural(agents.length, 'agent')}
        </h2>
        {!op ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void start();
            }}
          >
            <div className="bulk-preview" data-testid="bulk-preview">
              {preview.change.length > 0 ? (
                <>
                  <p>
                    <strong>{plural(preview.change.length, 'agent')}</strong> will change:
                  </p>
                  <ul className="bulk-transitions">
                    {transitions.map((t) => (
                      <li key={`${t.from}>${t.to}`} className="transition">
                        {t.from} → {t.to} <span className="muted">× {t.count}</span>
                      </li>
                    ))}
                  </ul>
                </>
              ) : (
                <p className="warning-text">
                  None of the selected agents allows {label.toLowerCase()} in its current state.
                </p>
              )}
              {preview.skip.length > 0 ? (
                <details className="bulk-skips">
                  <summary>
                    {plural(preview.skip.length, 'agent')} will be skipped
                  </summary>
                  <ul>
                    {preview.skip.map((s) => (
                      <li key={s.agent.id}>
                        {s.agent.displayName ?? s.agent.name}: {s.reason}
                      </li>
                    ))}
                  </ul>
                </details>
              ) : null}
              {action === 'revoke' && preview.change.length > 0 ? (
                <p className="warning-text">Revoking is final: these agents cannot run again.</p>
              ) : null}
            </div>
            <label className="field">
              <span>Reason (kept in each agent's state history)</span>
              <input
                className="input"
                value={reason}
                maxLength={1000}
                onChange={(e) => {
                  setReason(e.target.value);
                }}
              />
            </label>
            <div className="bulk-options">
              <label className="field-inline">
                <span>At once</span>
                <select
                  className="input"
                  value={parallelism}
                  onChange={(e) => {
                    setParallelism(Number(e.target.value));
                  }}
                >
                  {[1, 2, 5, 10, 20].map((n) => (
                    <option key={n} value={n}>
                      {n}
                    </option>
                  ))}
                </select>
              </label>
              <label className="check">
                <input
                  type="checkbox"
                  checked={rollback}
                  onChange={(e) => {
                    setRollback(e.target.checked);
                  }}
                />
                <span>Roll back the ones that succeeded if more than half fail</span>
              </label>
            </div>
            <ErrorMessage error={error} title="Refused" />
            <div className="modal-actions">
              <button type="button" className="button" onClick={close}>
                Cancel
              </button>
              <button
                type="submit"
                className={action === 'revoke' ? 'button button-danger' : 'button button-primary'}
                disabled={sending || preview.change.length === 0}
              >
                {sending ? 'Starting…' : `${label} ${plural(preview.change.length, 'agent')}`}
              </button>
            </div>
          </form>
        ) : (
          <>
            <ProgressTracker
              label={`${PRESENT[action]} ${plural(op.total ?? agents.length, 'agent')}`}
              done={(op.succeeded ?? 0) + (op.failed ?? 0) + (op.skipped ?? 0)}
              total={op.total ?? agents.length}
              startedAt={startedAt}
              finished={finished}
              steps={steps}
            />
            {finished ? (
              <div
                className={op.status === 'BULK_STATUS_SUCCEEDED' ? 'bulk-summary' : 'bulk-summary bulk-summary-bad'}
                role="status"
                data-testid="bulk-summary"
              >
                {summaryText(op)}
              </div>
            ) : (
              <p className="muted small">Closing this leaves the operation running.</p>
            )}
            <div className="modal-actions">
              <button type="button" className={finished ? 'button button-primary' : 'button'} onClick={close}>
                {finished ? 'Done' : 'Close'}
              </button>
            </div>
          </>
        )}
      </div>
    </Modal>
  );
}
