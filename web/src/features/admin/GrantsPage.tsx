// Temporary grants (/admin/grants): who asked for which role, for how long
// and why; approving or denying the pending ones and revoking the active
// ones. New requests and decisions arrive over the event stream.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import type { GrantDecision, ListGrantsParams } from '../../api/admin';
import type { GrantJson, GrantStateJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import './admin.css';
import { GrantDecisionDialog } from './GrantDecisionDialog';
import { firstText, formatDuration, GRANT_STATES, grantState, grantStateInfo, roleLabel, timeLeft } from './model';
import { DataTable, Pager, Pill, When } from './parts';
import { useNow } from '../../ui/clock';
import { grantsQuery, meQuery, useIdentityEvents } from './queries';

const PAGE_SIZE = 50;

const col = createColumnHelper<GrantJson>();

/** The ?state= value of each filter: the state's name in lower case. */
function slug(st: GrantStateJson): string {
  return st.replace('GRANT_STATE_', '').toLowerCase();
}

function fromSlug(s: string | null): GrantStateJson | undefined {
  return GRANT_STATES.find((x) => slug(x.value) === s)?.value;
}

export default function GrantsPage() {
  const [search, setSearch] = useSearchParams();
  const state = fromSlug(search.get('state'));
  const [pages, setPages] = useState<string[]>([]);
  const [chosen, setChosen] = useState<{ id: string; decision: GrantDecision; seen: GrantJson } | undefined>();

  const params: ListGrantsParams = { pageSize: PAGE_SIZE, state, pageToken: pages.at(-1) };
  const list = useQuery({ ...grantsQuery(params), placeholderData: keepPreviousData });
  const me = useQuery(meQuery());
  useIdentityEvents('grants');

  const grants = list.data?.grants ?? [];
  // A clock only while an active grant's time left is on screen.
  const ticking = grants.some((g) => g.state === 'GRANT_STATE_ACTIVE');
  const now = useNow(ticking ? 1000 : 0);
  const principal = me.data?.principal;
  const isMine = (g: GrantJson) =>
    principal !== undefined &&
    ((!!principal.subject && g.userId === principal.subject) ||
      (!!principal.email && g.userEmail?.toLowerCase() === principal.email.toLowerCase()));
  const chosenGrant = chosen ? (grants.find((g) => g.id === chosen.id) ?? chosen.seen) : undefined;

  const decide = (g: GrantJson, decision: GrantDecision) => {
    setChosen({ id: g.id ?? '', decision, seen: g });
  };

  const columns = [
    // The request's time sits under the requester, and the duration beside
    // the role: nine columns would not fit a laptop's width.
    col.display({
      id: 'requester',
      header: 'Requester',
      cell: ({ row }) => (
        <>
          <span className="admin-strong">{firstText(row.original.userEmail, row.original.userId)}</span>
          {isMine(row.original) ? <span className="muted"> (you)</span> : null}
          <div className="small muted">
            requested <When t={row.original.requestTime} />
          </div>
        </>
      ),
    }),
    col.display({
      id: 'role',
      header: 'Role, duration',
      cell: ({ row }) => (
        <span className="admin-nowrap">
          <span className="badge">{roleLabel(row.original.role)}</span> for {formatDuration(row.original.duration)}
        </span>
      ),
    }),
    col.display({
      id: 'reason',
      header: 'Reason',
      cell: ({ row }) => <span className="admin-reason">{firstText(row.original.reason) ?? '—'}</span>,
    }),
    col.display({
      id: 'state',
      header: 'State',
      cell: ({ row }) => {
        const info = grantStateInfo(grantState(row.original, now));
        return <Pill tone={info.tone}>{info.label}</Pill>;
      },
    }),
    col.display({
      id: 'decided',
      header: 'Decided by',
      cell: ({ row }) => {
        const g = row.original;
        if (!g.decidedBy) {
          return <span className="muted">—</span>;
        }
        return (
          <>
            {g.decidedBy}
            <div className="small muted">
              <When t={g.decideTime} />
            </div>
            {g.decisionReason ? <div className="small admin-reason">“{g.decisionReason}”</div> : null}
          </>
        );
      },
    }),
    col.display({
      id: 'expires',
      header: 'Expires',
      cell: ({ row }) => {
        const g = row.original;
        if (!g.expireTime) {
          return <span className="muted">—</span>;
        }
        const left = grantState(g, now) === 'GRANT_STATE_ACTIVE' ? timeLeft(g.expireTime, now) : '';
        return (
          <>
            <When t={g.expireTime} />
            {left ? <div className="small admin-left">{left} left</div> : null}
          </>
        );
      },
    }),
    col.display({
      id: 'actions',
      header: () => <span className="sr-only">Actions</span>,
      cell: ({ row }) => {
        const g = row.original;
        const who = firstText(g.userEmail, g.userId) ?? '';
        const st = grantState(g, now);
        if (st === 'GRANT_STATE_PENDING') {
          return (
            <span className="admin-actions">
              {isMine(g) ? (
                <span className="small muted admin-own">Your own request: another admin must approve it.</span>
              ) : me.isPending ? null : (
                <button
                  type="button"
                  className="button"
                  aria-label={`Approve the grant for ${who}`}
                  onClick={() => {
                    decide(g, 'approve');
                  }}
                >
                  Approve
                </button>
              )}
              <button
                type="button"
                className="button"
                aria-label={`Deny the grant for ${who}`}
                onClick={() => {
                  decide(g, 'deny');
                }}
              >
                Deny
              </button>
            </span>
          );
        }
        if (st === 'GRANT_STATE_ACTIVE') {
          return (
            <button
              type="button"
              className="button"
              aria-label={`Revoke the grant for ${who}`}
              onClick={() => {
                decide(g, 'revoke');
              }}
            >
              Revoke
            </button>
          );
        }
        return null;
      },
    }),
  ];

  return (
    <section aria-labelledby="grants-title">
      <div className="page-head">
        <h1 id="grants-title" className="page-title">
          Grants
        </h1>
        <span className="muted">Temporary higher roles, asked for and decided</span>
      </div>
      <div className="toolbar">
        <label className="field-inline">
          <span>State</span>
          <select
            className="input"
            value={state ? slug(state) : ''}
            onChange={(e) => {
              const next = new URLSearchParams(search);
              if (e.target.value) {
                next.set('state', e.target.value);
              } else {
                next.delete('state');
              }
              setSearch(next, { replace: true });
              setPages([]);
            }}
          >
            <option value="">All states</option>
            {GRANT_STATES.map((s) => (
              <option key={s.value} value={slug(s.value)}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage error={list.error} title="Cannot list grants" />
      <DataTable
        label="Grant list"
        columns={columns}
        data={grants}
        pending={list.isPending}
        fetching={list.isFetching}
        empty={state ? `No ${grantStateInfo(state).label.toLowerCase()} grants.` : 'Nobody has asked for a grant yet.'}
        rowId={(g) => g.id ?? ''}
      />
      <Pager pages={pages} next={firstText(list.data?.nextPageToken)} onPages={setPages} />
      <GrantDecisionDialog
        chosen={chosen && chosenGrant ? { grant: chosenGrant, decision: chosen.decision } : undefined}
        onClose={() => {
          setChosen(undefined);
        }}
      />
    </section>
  );
}
