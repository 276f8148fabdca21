import { cleanup, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { renderWith } from '../test/render';
import type { Role } from './context';
import { NAV, type NavItem } from './nav';
import { Sidebar } from './Sidebar';

afterEach(cleanup);

const items: NavItem[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/agents', label: 'Agents' },
  { to: '/audit', label: 'Audit', minRole: 'operator' },
  { to: '/users', label: 'Users', minRole: 'admin', group: 'Admin' },
  { to: '/tokens', label: 'Tokens', minRole: 'admin', group: 'Admin' },
  { to: '/grants', label: 'Grants', minRole: 'admin', group: 'Admin' },
];

function links(role: Role, list: NavItem[] = items): (string | null)[] {
  renderWith(<Sidebar items={list} open={false} />, { role, path: '/agents' });
  return screen.getAllByRole('link').map((a) => a.textContent);
}

describe('Sidebar', () => {
  it.each<[Role, string[]]>([
    ['viewer', ['Dashboard', 'Agents']],
    ['operator', ['Dashboard', 'Agents', 'Audit']],
    ['admin', ['Dashboard', 'Agents', 'Audit', 'Users', 'Tokens', 'Grants']],
  ])('shows a %s only the pages the role may use', (role, want) => {
    expect(links(role)).toEqual(want);
  });

  it('marks the current page', () => {
    links('viewer', NAV);
    expect(screen.getByRole('link', { name: 'Agents' }).getAttribute('aria-current')).toBe('page');
    expect(screen.getByRole('link', { name: 'Dashboard' }).getAttribute('aria-current')).toBeNull();
  });
});
