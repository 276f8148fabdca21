import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { remediate } from '../../api/agents';
import { canOperate, useRole } from '../../app/context';
import type { AgentJson } from '../../gen/portal/agents/v1/agents_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { formatTime, orElse } from '../../ui/format';
import { AgentActionMenu } from './AgentActionMenu';
import { Labels } from './AgentsPage';
import { isStale } from './ConfirmActionDialog';
import './agents.css';
import { Timeline } from '../../ui/Timeline';
import { LogTail } from './LogTail';
import { agentChanged, agentKeys, detailQuery, historyQuery, useAgentEvents } from './queries';
import { StatusBadge } from './StatusBadge';
import { stateInfo, stateName } from './states';

export default function AgentDetailPage() {
  const { id = '' } = useParams();
  const detail = useQuery(detailQuery(id));
  const history = useQuery(historyQuery(id));
  useAgentEvents(`agents/${id}`);
  const agent = detail.data?.agent;

  return (
    <section aria-labelledby="agent-title">
      <p>
        <Link to="/agents">← Agents</Link>
      </p>
      <ErrorMessage error={detail.error} title="Cannot read the agent" />
      {detail.isPending ? <p className="muted">Loading…</p> : null}
      {agent ? (
        <>
          <div className="page-head">
            <h1 id="agent-title" className="page-title">
              {agent.displayName ?? agent.name}
            </h1>
            <StatusBadge state={agent.state} />
            <span className="shell-spacer" />
            <AgentActionMenu agent={agent} />
          </div>
          {agent.stateReason ? <p className="muted">{agent.stateReason}</p> : null}
          <div className="detail-grid">
            <div className="card">
              <h2 className="card-title">Overview</h2>
              <dl className="facts">
                <dt>Name</dt>
                <dd className="mono">{agent.name}</dd>
                <dt>Kind</dt>
                <dd>{(agent.kind ?? '').replace('AGENT_KIND_', '').toLowerCase()}</dd>
                <dt>Version</dt>
                <dd className="mono">{orElse(agent.version, '—')}</dd>
                <dt>Owner</dt>
                <dd>{orElse(agent.owner, '—')}</dd>
                <dt>Labels</dt>
                <dd>
                  <Labels labels={agent.labels} />
                </dd>
                <dt>Pending operation</dt>
                <dd className="mono">{orElse(agent.pendingOperation, 'none')}</dd>
                <dt>Updated</dt>
                <dd>{formatTime(agent.updateTime)}</dd>
              </dl>
              {agent.description ? <p>{agent.description}</p> : null}
            </div>
            {agent.state === 'AGENT_STATE_ERRORED' && agent.error ? <ErrorExplanation agent={agent} /> : null}
            <div className="card">
              <h2 className="card-title">Config</h2>
              <pre className="code-block" aria-label="Config (read-only)">
                {JSON.stringify(agent.config ?? {}, null, 2)}
              </pre>
            </div>
            <div className="card">
              <h2 className="card-title">State history</h2>
              <ErrorMessage error={history.error} />
              <Timeline
                label="State history, newest first"
                emptyText="No transitions yet."
                items={[...(history.data?.transitions ?? [])].reverse().map((t) => {
                  const tone = stateInfo(t.toState).tone;
                  return {
                    id: String(t.sequence ?? t.time),
                    time: t.time ?? 0,
                    tone: tone === 'unknown' ? 'neutral' : tone,
                    status: stateName(t.toState).toLowerCase(),
                    title:
                      t.fromState && t.fromState !== 'AGENT_STATE_UNSPECIFIED'
                        ? `${stateName(t.fromState)} → ${stateName(t.toState)}`
                        : `Created as ${stateName(t.toState)}`,
                    description: [(t.action ?? '').replace('AGENT_ACTION_', '').toLowerCase(), orElse(t.actor, 'system'), t.reason]
                      .filter(Boolean)
                      .join(' · '),
                  };
                })}
              />
            </div>
            <LogTail agent={agent} />
          </div>
        </>
      ) : null}
    </section>
  );
}

function ErrorExplanation({ agent }: { agent: AgentJson }) {
  const role = useRole();
  const qc = useQueryClient();
  const err = agent.error ?? {};
  const run = useMutation({
    mutationFn: (suggestionId: string) => remediate(agent.id ?? '', { suggestionId, etag: agent.etag ?? '' }),
    onSuccess: (res) => {
      if (res.agent) {
        agentChanged(qc, res.agent);
      }
    },
    onError: (e) => {
      if (isStale(e)) {
        void qc.invalidateQueries({ queryKey: agentKeys.detail(agent.id ?? '') });
      }
    },
  });
  return (
    <div className="card card-error" role="region" aria-label="Error explanation">
      <h2 className="card-title">Why it failed</h2>
      <dl className="facts">
        <dt>Class</dt>
        <dd>{err.class}</dd>
        <dt>Code</dt>
        <dd className="mono">{err.code}</dd>
        <dt>Message</dt>
        <dd>{err.message}</dd>
        <dt>Probable cause</dt>
        <dd>{err.probableCause}</dd>
        {Object.entries(err.details ?? {}).map(([k, v]) => (
          <div key={k} className="facts-row">
            <dt>{k}</dt>
            <dd className="mono pre-wrap">{v}</dd>
          </div>
        ))}
      </dl>
      {(err.suggestedActions ?? []).length > 0 ? (
        <div className="suggestions">
          {(err.suggestedActions ?? []).map((s) =>
            canOperate(role) && s.id && !s.link ? (
              <button
                key={s.id}
                type="button"
                className={s.action === 'AGENT_ACTION_REVOKE' ? 'button button-danger' : 'button button-primary'}
                title={s.description}
                disabled={run.isPending}
                onClick={() => {
                  // Revoking is final: ask first.
                  if (
                    s.action !== 'AGENT_ACTION_REVOKE' ||
                    window.confirm(`Revoke agent ${agent.name ?? ''}: ${stateName(agent.state)} → REVOKED? This is final.`)
                  ) {
                    run.mutate(s.id ?? '');
                  }
                }}
              >
                {s.title ?? s.id}
              </button>
            ) : (
              <span key={s.id ?? s.title} className="suggestion" title={s.description}>
                {s.title}
                {s.description ? <span className="muted small"> — {s.description}</span> : null}
              </span>
            ),
          )}
        </div>
      ) : null}
      {isStale(run.error) ? (
        <div className="error-box" role="alert">
          This agent was changed by someone else, reloaded.
        </div>
      ) : (
        <ErrorMessage error={run.error} title="Refused" />
      )}
    </div>
  );
}
