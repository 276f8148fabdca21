import { atLeast, type Role } from './context';

export interface NavItem {
  to: string;
  label: string;
  /** The least role that may use the page (viewer when not given). */
  minRole?: Exclude<Role, 'none'>;
  /** The sidebar's group heading for the item. */
  group?: 'Admin';
}

/** The sidebar's pages, in order. */
export const NAV: NavItem[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/agents', label: 'Agents' },
  { to: '/events', label: 'Events' },
  // The audit log needs operator to search (portal.audit.v1 declares it).
  { to: '/audit', label: 'Audit', minRole: 'operator' },
  { to: '/admin/users', label: 'Users', minRole: 'admin', group: 'Admin' },
  { to: '/admin/tokens', label: 'Tokens', minRole: 'admin', group: 'Admin' },
  { to: '/admin/grants', label: 'Grants', minRole: 'admin', group: 'Admin' },
];

/** The items the role may use. */
export function visibleNav(items: readonly NavItem[], role: Role): NavItem[] {
  return items.filter((i) => atLeast(role, i.minRole ?? 'viewer'));
}
