import type { AuthConfig } from '../api/identity';

/** LoginPage offers the ways in that /auth/config enables, returning to `path`. */
export function LoginPage({ auth, path }: { auth: AuthConfig | undefined; path: string }) {
  const redirect = encodeURIComponent(path);
  return (
    <main className="login">
      <div className="card login-card">
        <h1 className="shell-brand">WAOOAW Platform Portal</h1>
        <p className="muted">Sign in to manage agents.</p>
        {auth === undefined ? <p className="muted">Checking how you can sign in…</p> : null}
        {auth?.oidc_enabled ? (
          <a className="button button-primary login-button" href={`${auth.login_url || '/auth/login'}?redirect=${redirect}`}>
            Sign in with single sign-on
          </a>
        ) : null}
        {auth?.dev_login_enabled ? (
          <div className="login-dev">
            <a className="button login-button" href={`/auth/dev?redirect=${redirect}`}>
              Development login
            </a>
            <span className="badge badge-dev">development only</span>
            <p className="muted small">Anyone can pick a user and role here. Never enabled in production.</p>
          </div>
        ) : null}
        {auth && !auth.oidc_enabled && !auth.dev_login_enabled ? (
          <p className="error">No login method is configured on this portal.</p>
        ) : null}
      </div>
    </main>
  );
}
