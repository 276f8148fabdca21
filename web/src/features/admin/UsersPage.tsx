// Users (/admin/users): everyone who has logged in, their role and where it
// comes from, and the admin's role changes. Searching and paging are the
// server's (ListUsers matches email or name and pages in email order).
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import type { ListUsersParams } from '../../api/admin';
import type { UserJson } from '../../gen/portal/identity/v1/identity_pb';
import { ErrorMessage } from '../../ui/ErrorMessage';
import './admin.css';
import { ChangeRoleDialog } from './ChangeRoleDialog';
import { firstText, hasRole, isDevUser, roleLabel, roleSource } from './model';
import { DataTable, Pager, When } from './parts';
import { useIdentityEvents, usersQuery } from './queries';

const PAGE_SIZE = 50;

const col = createColumnHelper<UserJson>();

export default function UsersPage() {
  const [search, setSearch] = useSearchParams();
  const query = search.get('query') ?? '';
  const [draft, setDraft] = useState(query);
  const [pages, setPages] = useState<string[]>([]);
  const [chosenId, setChosenId] = useState<string | undefined>();
  // The chosen user as last seen, should a re-read leave them off this page.
  const [chosenSeen, setChosenSeen] = useState<UserJson | undefined>();

  const params: ListUsersParams = { pageSize: PAGE_SIZE, query: query || undefined, pageToken: pages.at(-1) };
  const list = useQuery({ ...usersQuery(params), placeholderData: keepPreviousData });
  useIdentityEvents('users');

  const users = list.data?.users ?? [];
  const chosen = chosenId === undefined ? undefined : (users.find((u) => u.id === chosenId) ?? chosenSeen);

  const columns = [
    col.display({
      id: 'name',
      header: 'Name',
      cell: ({ row }) => <span className="admin-strong">{firstText(row.original.name) ?? '—'}</span>,
    }),
    col.display({ id: 'email', header: 'Email', cell: ({ row }) => row.original.email }),
    col.display({
      id: 'role',
      header: 'Role',
      cell: ({ row }) => <span className="badge">{roleLabel(row.original.role)}</span>,
    }),
    col.display({
      id: 'source',
      header: 'Source',
      cell: ({ row }) => {
        const u = row.original;
        return (
          <>
            <span className={hasRole(u.assignedRole) ? undefined : 'muted'}>{roleSource(u)}</span>
            {isDevUser(u) ? <div className="small muted">development login: role chosen at login</div> : null}
          </>
        );
      },
    }),
    col.display({ id: 'lastLogin', header: 'Last login', cell: ({ row }) => <When t={row.original.lastLoginTime} /> }),
    col.display({ id: 'created', header: 'Created', cell: ({ row }) => <When t={row.original.createTime} /> }),
    col.display({
      id: 'actions',
      header: () => <span className="sr-only">Actions</span>,
      cell: ({ row }) => {
        const u = row.original;
        return (
          <button
            type="button"
            className="button"
            aria-label={`Change role of ${u.email ?? u.id ?? ''}`}
            onClick={() => {
              setChosenId(u.id);
              setChosenSeen(u);
            }}
          >
            Change role
          </button>
        );
      },
    }),
  ];

  return (
    <section aria-labelledby="users-title">
      <div className="page-head">
        <h1 id="users-title" className="page-title">
          Users
        </h1>
        <span className="muted">Everyone who has logged in</span>
      </div>
      <div className="toolbar" role="search">
        <form
          className="toolbar-search"
          onSubmit={(e) => {
            e.preventDefault();
            const next = new URLSearchParams(search);
            const q = draft.trim();
            if (q) {
              next.set('query', q);
            } else {
              next.delete('query');
            }
            setSearch(next, { replace: true });
            setPages([]);
          }}
        >
          <label className="sr-only" htmlFor="user-search">
            Search users
          </label>
          <input
            id="user-search"
            className="input admin-search"
            type="search"
            placeholder="Email or name…"
            value={draft}
            onChange={(e) => {
              setDraft(e.target.value);
            }}
          />
          <button type="submit" className="button">
            Search
          </button>
        </form>
      </div>
      <ErrorMessage error={list.error} title="Cannot list users" />
      <DataTable
        label="User list"
        columns={columns}
        data={users}
        pending={list.isPending}
        fetching={list.isFetching}
        empty={query ? `No user matches “${query}”.` : 'Nobody has logged in yet.'}
        rowId={(u) => u.id ?? ''}
      />
      <Pager pages={pages} next={firstText(list.data?.nextPageToken)} onPages={setPages} />
      <ChangeRoleDialog
        user={chosen}
        onClose={() => {
          setChosenId(undefined);
          setChosenSeen(undefined);
        }}
      />
    </section>
  );
}
