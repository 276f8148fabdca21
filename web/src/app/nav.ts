import type { Role } from './context';

export interface NavItem {
  to: string;
  label: string;
  /** Shown to admins only. */
  adminOnly?: boolean;
}

/**
 * The sidebar's pages. Events, Audit, Users, Tokens and Grants join as their
 * pages are built (Users, Tokens and Grants with adminOnly).
 */
export const NAV: NavItem[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/agents', label: 'Agents' },
];

/** The items the role may use. */
export function visibleNav(items: readonly NavItem[], role: Role): NavItem[] {
  return items.filter((i) => !i.adminOnly || role === 'admin');
}
