import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { ErrorMessage } from '../../ui/ErrorMessage';
import { listQuery, useAgentEvents } from '../agents/queries';
import { FILTER_STATES, stateInfo, toneColor } from '../agents/states';

/** DashboardPage counts agents by state (first page of up to 500, the most a page holds), live. */
export function DashboardPage() {
  const list = useQuery(listQuery({ pageSize: 500, orderBy: 'name' }));
  useAgentEvents('agents');
  const counts = new Map<string, number>();
  for (const a of list.data?.agents ?? []) {
    const s = a.state ?? 'AGENT_STATE_UNSPECIFIED';
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title" className="page-title">
        Dashboard
      </h1>
      <ErrorMessage error={list.error} title="Cannot list agents" />
      <div className="metrics">
        <div className="card metric">
          <div className="metric-label">Agents</div>
          <div className="metric-value">{list.data?.totalSize ?? list.data?.agents?.length ?? '…'}</div>
        </div>
        {FILTER_STATES.map((s) => (
          <Link key={s} to={`/agents?state=${s}`} className="card metric metric-link">
            <div className="metric-label">
              <span className="status-dot" style={{ background: toneColor(stateInfo(s).tone) }} aria-hidden="true" />{' '}
              {stateInfo(s).label}
            </div>
            <div className="metric-value">{list.data ? (counts.get(s) ?? 0) : '…'}</div>
          </Link>
        ))}
      </div>
    </section>
  );
}
