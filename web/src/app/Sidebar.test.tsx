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
  { to: '/users', label: 'Users', adminOnly: true },
  { to: '/tokens', label: 'Tokens', adminOnly: true },
  { to: '/grants', label: 'Grants', adminOnly: true },
];

function links(role: Role, list: NavItem[] = items): (string | null)[] {
  renderWith(<Sidebar items={list} open={false} />, { role, path: '/agents' });
  return screen.getAllByRole('link').map((a) => a.textContent);
}

describe('Sidebar', () => {
  it.each<Role>(['viewer', 'operator'])('hides the admin pages from a %s', (role) => {
    expect(links(role)).toEqual(['Dashboard', 'Agents']);
  });

  it('shows the admin pages to an admin', () => {
    expect(links('admin')).toEqual(['Dashboard', 'Agents', 'Users', 'Tokens', 'Grants']);
  });

  it('marks the current page', () => {
    links('viewer', NAV);
    expect(screen.getByRole('link', { name: 'Agents' }).getAttribute('aria-current')).toBe('page');
    expect(screen.getByRole('link', { name: 'Dashboard' }).getAttribute('aria-current')).toBeNull();
  });
});
