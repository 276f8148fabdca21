import { NavLink } from 'react-router';
import { useRole } from './context';
import { NAV, visibleNav, type NavItem } from './nav';

/** Sidebar is the navigation: only what the role can use. */
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
  return (
    <nav id="sidebar" className="sidebar" data-open={open} aria-label="Main">
      <ul>
        {visibleNav(items, role).map((i) => (
          <li key={i.to}>
            <NavLink to={i.to} end={i.to === '/'} className="nav-link" onClick={onNavigate}>
              {i.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
