import { NavLink } from 'react-router';
import { useRole } from './context';
import { NAV, visibleNav, type NavItem } from './nav';

/** Sidebar is the navigation: only what the role can use, admin pages under their heading. */
export function Sidebar({
  items = NAV,
  open,
  onNavigate,
}: {
  items?: readonly NavItem[];
  open: boolean;
  onNavigate?: () => void;
}) {
  const role = useRole();
  const visible = visibleNav(items, role);
  const groups: { name: string | undefined; items: NavItem[] }[] = [];
  for (const i of visible) {
    const last = groups.at(-1);
    if (last && last.name === i.group) {
      last.items.push(i);
    } else {
      groups.push({ name: i.group, items: [i] });
    }
  }
  return (
    <nav id="sidebar" className="sidebar" data-open={open} aria-label="Main">
      {groups.map((g) => (
        <div key={g.name ?? 'main'} className="nav-group">
          {g.name ? <h2 className="nav-heading">{g.name}</h2> : null}
          <ul>
            {g.items.map((i) => (
              <li key={i.to}>
                <NavLink to={i.to} end={i.to === '/'} className="nav-link" onClick={onNavigate}>
                  {i.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </div>
      ))}
    </nav>
  );
}
