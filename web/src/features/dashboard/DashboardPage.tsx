// The operational command center: the platform's health in one line, the
// key figures with their last hour, the agents by state, the recent
// activity and the agents themselves, all narrowed to the context chosen in
// the header and all kept live by the event stream (no polling: the only
// timer is a clock for "3 min ago").
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link } from 'react-router';
import { useConnectionState } from '../../api/useConnectionState';
import { useStream } from '../../app/context';
import { ScopeNote } from '../../app/ScopeNote';
import { scopeLabel, scopeLabelSelector, useScope, type Scope } from '../../app/scope';
import type { AgentJson, AgentStateJson } from '../../gen/portal/agents/v1/agents_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { orElse } from '../../ui/format';
import { MetricCard } from '../../ui/MetricCard';
import { useNow } from '../../ui/clock';
import { formatRelative } from '../../ui/format';
import { formatDuration, Timeline, type TimelineItem } from '../../ui/Timeline';
import { detailQuery, listQuery, useAgentEvents } from '../agents/queries';
import { StatusBadge } from '../agents/StatusBadge';
import { FILTER_STATES, stateColor, stateInfo } from '../agents/states';
import { activityEntries } from './activity';
import { fetchReadiness, healthOf } from './health';
import { computeSeries, ERROR_STATES, eventTime, RUNNING, STATE_CHANGED, sumRecent, trendOf } from './series';
import { eventAgent } from '../../api/agents';
import { useRecentEvents } from './useRecentEvents';
import './dashboard.css';

/** The agents the dashboard reads: the most one page holds. */
export const AGENT_PAGE = 500;
/** The status cards shown. */
export const CARD_LIMIT = 24;

/** How long an agent has been in its state, as coarse as the clock that updates it. */
function stateAge(ms: number): string {
  return ms < 60_000 ? 'under a minute' : formatDuration(ms);
}

function kindLabel(kind: AgentJson['kind']): string {
  return (kind ?? 'AGENT_KIND_UNSPECIFIED').replace('AGENT_KIND_', '').toLowerCase();
}

interface ScopedAgents {
  agents: AgentJson[];
  /** All agents in the scope, including any beyond the page read. */
  total: number;
  isPending: boolean;
  error: Error | null;
}

/**
 * useScopedAgents is the live list of the agents in the scope: a customer's
 * by label selector, one agent by its id, else the first page of all.
 * The agents' queries keep them live from the stream (queries.ts).
 */
function useScopedAgents(scope: Scope): ScopedAgents {
  const one = scope.kind === 'agent';
  const list = useQuery({
    ...listQuery({ pageSize: AGENT_PAGE, orderBy: 'name', labelSelector: scopeLabelSelector(scope) }),
    enabled: !one,
  });
  const detail = useQuery({ ...detailQuery(one ? scope.id : ''), enabled: one });
  useAgentEvents('agents');
  if (one) {
    const a = detail.data?.agent;
    return { agents: a ? [a] : [], total: a ? 1 : 0, isPending: detail.isPending, error: detail.error };
  }
  // A label change keeps an agent in a cached customer list until it is
  // read again: inScope drops it now.
  const agents = (list.data?.agents ?? []).filter((a) => scope.kind !== 'customer' || a.labels?.customer === scope.customer);
  const total = Math.max(list.data?.totalSize ?? agents.length, agents.length);
  return { agents, total, isPending: list.isPending, error: list.error };
}

export function DashboardPage() {
  const scope = useScope();
  const stream = useStream();
  const connection = useConnectionState(stream);
  const now = useNow(30_000);
  const scoped = useScopedAgents(scope);
  const agentEvents = useRecentEvents('agents');
  const bulkEvents = useRecentEvents('bulkOperations', 100);
  const readiness = useQuery({
    queryKey: ['readyz'],
    queryFn: ({ signal }) => fetchReadiness(signal),
    // Once per visit: the stream reports what changes after.
    staleTime: Infinity,
    retry: false,
  });

  const counts = useMemo(() => {
    const m = new Map<AgentStateJson, number>();
    for (const a of scoped.agents) {
      const s = a.state ?? 'AGENT_STATE_UNSPECIFIED';
      m.set(s, (m.get(s) ?? 0) + 1);
    }
    return m;
  }, [scoped.agents]);
  const running = counts.get(RUNNING) ?? 0;
  const inError = ERROR_STATES.reduce((n, s) => n + (counts.get(s) ?? 0), 0);

  const loaded = !scoped.isPending && !scoped.error;
  const historyReady = loaded && !agentEvents.isPending && !agentEvents.error;
  const series = useMemo(() => {
    if (!historyReady) {
      return undefined;
    }
    const oldest = agentEvents.events.reduce((m, e) => Math.min(m, eventTime(e)), Infinity);
    return computeSeries({
      now,
      agents: scoped.agents,
      untracked: scope.kind === 'agent' ? 0 : scoped.total - scoped.agents.length,
      events: agentEvents.events,
      scope,
      completeFrom: agentEvents.truncated && Number.isFinite(oldest) ? oldest : undefined,
    });
  }, [historyReady, now, scoped.agents, scoped.total, agentEvents.events, agentEvents.truncated, scope]);

  const health = healthOf({
    connection,
    readiness: readiness.data,
    readinessError: readiness.error,
    inError: loaded ? inError : undefined,
    agentsError: scoped.error,
  });

  const activity = useMemo(
    () => activityEntries([...agentEvents.events, ...bulkEvents.events], scope),
    [agentEvents.events, bulkEvents.events, scope],
  );

  // When each agent entered its state, where a transition says so.
  const stateSince = useMemo(() => {
    const m = new Map<string, number>();
    for (const e of agentEvents.events) {
      if (e.eventType !== STATE_CHANGED) {
        continue;
      }
      const id = eventAgent(e)?.id;
      const at = eventTime(e);
      if (id && !Number.isNaN(at) && at > (m.get(id) ?? -Infinity)) {
        m.set(id, at);
      }
    }
    return m;
  }, [agentEvents.events]);

  const spark = (values: (number | null)[] | undefined) =>
    series && values ? { values, times: series.times, period: 'last 60 minutes' } : undefined;
  const trend = (values: (number | null)[] | undefined, upIs: 'good' | 'bad' | 'neutral') => {
    const d = values ? trendOf(values) : undefined;
    return d === undefined ? undefined : { delta: d, upIs };
  };
  const scopedText = scope.kind === 'all' ? 'agents' : `agents of ${scopeLabel(scope).toLowerCase()}`;

  return (
    <section aria-labelledby="dash-title" className="dash">
      <div className="page-head dash-head">
        <h1 id="dash-title" className="page-title">
          Dashboard
        </h1>
      </div>
      <ScopeNote what="agents" />

      <p className="dash-health" role="status" data-tone={health.tone}>
        <span className="dash-health-dot" aria-hidden="true" />
        {health.text}
      </p>

      <section aria-labelledby="dash-kpis" className="dash-section">
        <h2 id="dash-kpis" className="sr-only">
          Key figures
        </h2>
        <ErrorMessage
          error={scoped.error}
          title={scope.kind === 'agent' ? `Cannot read agent ${scope.name}` : 'Cannot list agents'}
        />
        <ErrorMessage error={agentEvents.error} title="Cannot read the recent events; the last hour is not shown" />
        <div className="dash-kpis">
          <MetricCard
            label="Agents"
            value={loaded ? scoped.total : undefined}
            loading={scoped.isPending}
            tone="neutral"
            to="/agents"
            trend={trend(series?.total, 'neutral')}
            sparkline={spark(series?.total)}
            note={
              loaded && scoped.total > scoped.agents.length
                ? `states of the first ${scoped.agents.length} shown`
                : undefined
            }
          />
          <MetricCard
            label="Running"
            value={loaded ? running : undefined}
            loading={scoped.isPending}
            tone={loaded && running > 0 ? 'success' : 'neutral'}
            to={`/agents?state=${RUNNING}`}
            trend={trend(series?.running, 'good')}
            sparkline={spark(series?.running)}
          />
          <MetricCard
            label="In error"
            value={loaded ? inError : undefined}
            loading={scoped.isPending}
            tone={loaded && inError > 0 ? 'error' : 'success'}
            to="/agents?state=AGENT_STATE_ERRORED"
            trend={trend(series?.inError, 'bad')}
            sparkline={spark(series?.inError)}
          />
          <MetricCard
            label="State changes"
            value={series ? sumRecent(series.changes) : undefined}
            unit="last hour"
            loading={scoped.isPending || agentEvents.isPending}
            tone="neutral"
            to="/events"
            sparkline={series ? { ...spark(series.changes), values: series.changes, color: '--color-accent-2' } : undefined}
          />
        </div>
      </section>

      <div className="dash-grid">
        <section aria-labelledby="dash-states" className="card dash-section dash-states">
          <h2 id="dash-states" className="card-title">
            Agents by state
          </h2>
          <StateBreakdown
            counts={counts}
            total={scoped.agents.length}
            loading={scoped.isPending}
            failed={Boolean(scoped.error)}
            scope={scope}
          />
        </section>

        <section aria-labelledby="dash-activity" className="card dash-section dash-activity">
          <h2 id="dash-activity" className="card-title">
            Recent activity
          </h2>
          <ErrorMessage error={agentEvents.error} title="Cannot read the recent events" />
          {agentEvents.isPending ? (
            <p className="muted" aria-busy="true">
              Loading recent activity…
            </p>
          ) : agentEvents.error ? null : (
            <Timeline
              label="Recent activity"
              now={now}
              items={activity.map(
                (e): TimelineItem => ({
                  id: e.id,
                  time: e.time,
                  tone: e.tone,
                  status: e.status,
                  title: (
                    <>
                      {e.agentId ? (
                        <Link to={`/agents/${encodeURIComponent(e.agentId)}`}>{e.agentName}</Link>
                      ) : e.agentName ? (
                        <span>{e.agentName}</span>
                      ) : null}{' '}
                      {e.text}
                    </>
                  ),
                  description: e.description,
                  durationMs: e.durationMs,
                  details: e.details,
                }),
              )}
              emptyText={`No recent events for the ${scopedText}.`}
            />
          )}
        </section>

        <section aria-labelledby="dash-agents" className="dash-section dash-agents-section">
          <div className="dash-section-head">
            <h2 id="dash-agents" className="dash-h2">
              Agents
            </h2>
            {loaded && scoped.total > 0 ? (
              <Link to="/agents" className="dash-view-all">
                View all {scoped.total} {scoped.total === 1 ? 'agent' : 'agents'}
              </Link>
            ) : null}
          </div>
          {scoped.isPending ? (
            <p className="muted" aria-busy="true">
              Loading agents…
            </p>
          ) : scoped.error ? null : scoped.agents.length === 0 ? (
            <EmptyAgents scope={scope} />
          ) : (
            <ul className="dash-agents" aria-label={`Agents in ${scopeLabel(scope).toLowerCase()}`}>
              {scoped.agents.slice(0, CARD_LIMIT).map((a) => (
                <AgentCard key={a.id} agent={a} since={a.id ? stateSince.get(a.id) : undefined} now={now} />
              ))}
            </ul>
          )}
        </section>
      </div>
    </section>
  );
}

function EmptyAgents({ scope }: { scope: Scope }) {
  if (scope.kind === 'customer') {
    return <p className="dash-empty">No agents carry the label customer={scope.customer}.</p>;
  }
  return (
    <p className="dash-empty">
      No agents yet — create one from the <Link to="/agents">Agents page</Link>.
    </p>
  );
}

function StateBreakdown({
  counts,
  total,
  loading,
  failed,
  scope,
}: {
  counts: Map<AgentStateJson, number>;
  total: number;
  loading: boolean;
  failed: boolean;
  scope: Scope;
}) {
  if (loading) {
    return (
      <p className="muted" aria-busy="true">
        Loading…
      </p>
    );
  }
  if (failed) {
    return <p className="muted">Not available.</p>;
  }
  if (total === 0) {
    return <EmptyAgents scope={scope} />;
  }
  const present = FILTER_STATES.filter((s) => (counts.get(s) ?? 0) > 0);
  return (
    <>
      {/* The bar is the picture; the legend below says the same in words. */}
      <div className="dash-bar" aria-hidden="true">
        {present.map((s) => (
          <span
            key={s}
            className="dash-bar-seg"
            title={`${stateInfo(s).label}: ${counts.get(s) ?? 0}`}
            style={{ width: `${((counts.get(s) ?? 0) / total) * 100}%`, background: stateColor(s) }}
          />
        ))}
      </div>
      <ul className="dash-legend" aria-label="Agents by state">
        {present.map((s) => (
          <li key={s}>
            <Link to={`/agents?state=${s}`} className="dash-legend-link">
              <span className="status-dot" style={{ background: stateColor(s) }} aria-hidden="true" />
              <span>{stateInfo(s).label}</span>
              <span className="dash-legend-count">{counts.get(s) ?? 0}</span>
            </Link>
          </li>
        ))}
      </ul>
    </>
  );
}

function AgentCard({ agent, since, now }: { agent: AgentJson; since: number | undefined; now: number }) {
  const name = orElse(agent.displayName, orElse(agent.name, agent.id ?? ''));
  const customer = agent.labels?.customer;
  return (
    <li className="dash-agent" data-agent-id={agent.id}>
      <div className="dash-agent-head">
        <Link to={`/agents/${encodeURIComponent(agent.id ?? '')}`} className="agent-link dash-agent-name">
          {name}
        </Link>
        <StatusBadge state={agent.state} />
      </div>
      <dl className="dash-agent-facts">
        <div>
          <dt>Kind</dt>
          <dd>{kindLabel(agent.kind)}</dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd className="mono">{orElse(agent.version, '—')}</dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd>{orElse(agent.owner, '—')}</dd>
        </div>
        <div>
          <dt>Customer</dt>
          <dd>{orElse(customer, '—')}</dd>
        </div>
      </dl>
      <p className="dash-agent-since">
        {since !== undefined ? (
          <>
            {stateInfo(agent.state).label} for{' '}
            <time dateTime={new Date(since).toISOString()} title={new Date(since).toLocaleString()}>
              {stateAge(now - since)}
            </time>
          </>
        ) : agent.updateTime ? (
          <>
            Updated{' '}
            <time dateTime={agent.updateTime} title={new Date(agent.updateTime).toLocaleString()}>
              {formatRelative(agent.updateTime, now)}
            </time>
          </>
        ) : null}
      </p>
    </li>
  );
}
