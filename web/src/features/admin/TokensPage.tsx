// API tokens (/admin/tokens): who made which token with what role, when it
// expires and was last used, and whether it still works; creating one (its
// secret shown once) and revoking one.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useState } from 'react';
import type { ListTokensParams } from '../../api/admin';
import type { TokenJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import './admin.css';
import { CreateTokenDialog } from './CreateTokenDialog';
import { firstText, roleLabel, TOKEN_STATE_INFO, tokenState } from './model';
import { DataTable, Pager, Pill, When } from './parts';
import { useNow } from '../../ui/clock';
import { tokensQuery, useIdentityEvents } from './queries';
import { RevokeTokenDialog } from './RevokeTokenDialog';

const PAGE_SIZE = 50;

const col = createColumnHelper<TokenJson>();

export default function TokensPage() {
  const [showInactive, setShowInactive] = useState(true);
  const [pages, setPages] = useState<string[]>([]);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<TokenJson | undefined>();
  const now = useNow(0);

  const params: ListTokensParams = { pageSize: PAGE_SIZE, showInactive, pageToken: pages.at(-1) };
  const list = useQuery({ ...tokensQuery(params), placeholderData: keepPreviousData });
  useIdentityEvents('tokens');
  const tokens = list.data?.tokens ?? [];

  const columns = [
    col.display({
      id: 'name',
      header: 'Name',
      cell: ({ row }) => (
        <>
          <span className="admin-strong">{row.original.name}</span>
          <div className="mono small muted">{row.original.prefix}…</div>
        </>
      ),
    }),
    col.display({ id: 'role', header: 'Role', cell: ({ row }) => <span className="badge">{roleLabel(row.original.role)}</span> }),
    col.display({ id: 'creator', header: 'Created by', cell: ({ row }) => firstText(row.original.creator) ?? '—' }),
    col.display({ id: 'created', header: 'Created', cell: ({ row }) => <When t={row.original.createTime} /> }),
    col.display({
      id: 'expires',
      header: 'Expires',
      cell: ({ row }) => (row.original.expireTime ? <When t={row.original.expireTime} /> : <span className="muted">never</span>),
    }),
    col.display({
      id: 'lastUsed',
      header: 'Last used',
      cell: ({ row }) => (row.original.lastUseTime ? <When t={row.original.lastUseTime} /> : <span className="muted">never</span>),
    }),
    col.display({
      id: 'state',
      header: 'State',
      cell: ({ row }) => {
        const t = row.original;
        const info = TOKEN_STATE_INFO[tokenState(t, now)];
        return (
          <>
            <Pill tone={info.tone}>{info.label}</Pill>
            {t.revokeTime ? <div className="small muted">
                <When t={t.revokeTime} />
              </div> : null}
          </>
        );
      },
    }),
    col.display({
      id: 'actions',
      header: () => <span className="sr-only">Actions</span>,
      cell: ({ row }) =>
        tokenState(row.original, now) === 'active' ? (
          <button
            type="button"
            className="button"
            aria-label={`Revoke token ${row.original.name ?? ''}`}
            onClick={() => {
              setRevoking(row.original);
            }}
          >
            Revoke
          </button>
        ) : null,
    }),
  ];

  return (
    <section aria-labelledby="tokens-title">
      <div className="page-head">
        <h1 id="tokens-title" className="page-title">
          API tokens
        </h1>
        <span className="shell-spacer" />
        <button
          type="button"
          className="button button-primary"
          onClick={() => {
            setCreating(true);
          }}
        >
          Create token
        </button>
      </div>
      <div className="toolbar">
        <label className="field-inline">
          <input
            type="checkbox"
            checked={showInactive}
            onChange={(e) => {
              setShowInactive(e.target.checked);
              setPages([]);
            }}
          />
          <span>Show revoked and expired tokens</span>
        </label>
      </div>
      <ErrorMessage error={list.error} title="Cannot list tokens" />
      <DataTable
        label="Token list"
        columns={columns}
        data={tokens}
        pending={list.isPending}
        fetching={list.isFetching}
        empty={showInactive ? 'No API tokens yet.' : 'No active API tokens.'}
        rowId={(t) => t.id ?? ''}
      />
      <Pager pages={pages} next={firstText(list.data?.nextPageToken)} onPages={setPages} />
      <CreateTokenDialog
        open={creating}
        onClose={() => {
          setCreating(false);
        }}
      />
      <RevokeTokenDialog
        token={revoking}
        onClose={() => {
          setRevoking(undefined);
        }}
      />
    </section>
  );
}
