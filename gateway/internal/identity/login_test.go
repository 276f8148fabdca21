package identity

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/errs"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	b := e.browser()

	r := e.login(b, mockUser("alice@example.com"), "/agents?tab=running")
	if r.status != http.StatusSeeOther || r.location != "/agents?tab=running" {
		t.Fatalf("callback = %d %q %s, want 303 to the saved path", r.status, r.location, r.body)
	}
	sc := r.cookie("portal_session")
	if sc == nil || !sc.HttpOnly || sc.Secure || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/ (not Secure: AUTH_COOKIE_SECURE=false)", sc)
	}
	cc := r.cookie(CSRFCookie)
	if cc == nil || cc.HttpOnly || cc.Value == "" {
		t.Fatalf("CSRF cookie = %+v, want one readable by script", cc)
	}

	id, w := e.whoami(b, "GET", nil)
	if w.status != http.StatusOK {
		t.Fatalf("whoami = %d %s", w.status, w.body)
	}
	if id.Email != "alice@example.com" || id.Kind != auth.KindUser || id.Role != authv1.Role_ROLE_ADMIN || id.Actor() != "alice@example.com" {
		t.Errorf("Authenticate = %+v, want alice, a user, admin by AUTH_ROLE_RULES", id)
	}
	if id.Until.IsZero() || id.SessionID == "" {
		t.Errorf("Authenticate = %+v, want a session id and an Until", id)
	}

	// The session is stored only as the hash of the cookie's value.
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM identity.sessions WHERE id = $1`, sha(sc.Value)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions with the cookie's hash = %d, %v; want 1", n, err)
	}
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM identity.sessions WHERE position($1::bytea in id) > 0 OR csrf_token = $2`,
		[]byte(sc.Value), sc.Value).Scan(&n); err != nil || n != 0 {
		t.Fatalf("sessions holding the cookie's value = %d, %v; want 0", n, err)
	}
	if cur, err := e.svc.SessionIdentity(context.Background(), id.SessionID); err != nil || cur.Role != id.Role {
		t.Fatalf("SessionIdentity = %+v, %v; want the session's identity", cur, err)
	}

	// Logout is a cookie write: it needs the CSRF token.
	if r := b.do("POST", e.srv.URL+"/auth/logout", nil, nil); r.status != http.StatusForbidden || r.reason() != ReasonCSRFMissing {
		t.Fatalf("logout without CSRF = %d %s, want 403 %s", r.status, r.body, ReasonCSRFMissing)
	}
	if r := b.do("POST", e.srv.URL+"/auth/logout", nil, map[string]string{CSRFHeader: cc.Value}); r.status != http.StatusOK {
		t.Fatalf("logout = %d %s, want 200", r.status, r.body)
	}
	if _, err := e.svc.SessionIdentity(context.Background(), id.SessionID); !errs.Is(err, errs.Unauthenticated) {
		t.Errorf("SessionIdentity after logout = %v, want Unauthenticated", err)
	}
	// The browser dropped the cookie; replay it as a thief would.
	b2 := e.browser()
	_, w = e.whoami(b2, "GET", map[string]string{"Cookie": "portal_session=" + sc.Value})
	if w.status != http.StatusUnauthorized || w.reason() != ReasonSessionEnded {
		t.Errorf("whoami with the ended session = %d %s, want 401 %s", w.status, w.body, ReasonSessionEnded)
	}

	in := e.events(SubjectLoggedIn)
	if len(in) != 1 || in[0].actor != "alice@example.com" {
		t.Fatalf("LoggedIn events = %+v, want one by alice", in)
	}
	p := in[0].payload.(*identityv1.LoggedIn).GetPrincipal()
	if p.GetKind() != identityv1.PrincipalKind_PRINCIPAL_KIND_USER || p.GetRole() != authv1.Role_ROLE_ADMIN || p.GetDevLogin() {
		t.Errorf("LoggedIn principal = %v, want an admin user, not dev", p)
	}
	out := e.events(SubjectLoggedOut)
	if len(out) != 1 || out[0].actor != "alice@example.com" || out[0].payload.(*identityv1.LoggedOut).GetReason() != "logout" {
		t.Fatalf("LoggedOut events = %+v, want one logout by alice", out)
	}
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{vars: map[string]string{"AUTH_COOKIE_SECURE": "true"}})
	b := e.browser()
	// Go's jar sends no Secure cookie over http: carry the cookies by hand.
	e.oidc.QueueUser(mockUser("alice@example.com"))
	r := b.get(e.srv.URL + "/auth/login")
	lc := r.cookie(loginCookie)
	if lc == nil || !lc.Secure {
		t.Fatalf("login cookie = %+v, want Secure", lc)
	}
	cb := e.authorize(b, mustURL(t, r.location))
	r = b.do("GET", cb, nil, map[string]string{"Cookie": loginCookie + "=" + lc.Value})
	if r.status != http.StatusSeeOther {
		t.Fatalf("callback = %d %s", r.status, r.body)
	}
	sc := r.cookie("__Host-portal_session")
	if sc == nil || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" {
		t.Fatalf("session cookie = %+v, want __Host-portal_session, Secure, HttpOnly, SameSite=Lax, Path=/", sc)
	}
	if c := r.cookie(CSRFCookie); c == nil || !c.Secure || c.HttpOnly {
		t.Fatalf("CSRF cookie = %+v, want Secure and readable by script", c)
	}
	id, w := e.whoami(e.browser(), "GET", map[string]string{"Cookie": sc.Name + "=" + sc.Value})
	if w.status != http.StatusOK || id.Email != "alice@example.com" {
		t.Fatalf("whoami = %d %s", w.status, w.body)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestLoginFailures: each way a login can go wrong fails with a clear
// message and a LoginFailed event.
func TestLoginFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		run        func(e *env, b *browser) response
		wantStatus int
		wantReason string
		wantText   string
	}{
		{
			name: "forged state",
			run: func(e *env, b *browser) response {
				e.startLogin(b, "/")
				return b.get(e.srv.URL + "/auth/callback?code=abc&state=" + randomString(32))
			},
			wantStatus: http.StatusBadRequest, wantReason: "STATE_UNKNOWN", wantText: "unknown or was already used",
		},
		{
			name: "reused state",
			run: func(e *env, b *browser) response {
				e.oidc.QueueUser(mockUser("alice@example.com"))
				cb := e.authorize(b, e.startLogin(b, "/"))
				if r := b.get(cb); r.status != http.StatusSeeOther {
					e.t.Fatalf("first callback = %d %s", r.status, r.body)
				}
				return b.get(cb)
			},
			wantStatus: http.StatusBadRequest, wantReason: "STATE_UNKNOWN", wantText: "already used",
		},
		{
			name: "reused code",
			run: func(e *env, b *browser) response {
				e.oidc.QueueUser(mockUser("alice@example.com"))
				cb := e.authorize(b, e.startLogin(b, "/"))
				if r := b.get(cb); r.status != http.StatusSeeOther {
					e.t.Fatalf("first callback = %d %s", r.status, r.body)
				}
				// A new login (fresh state) presenting the old code.
				second := e.authorize(b, e.startLogin(b, "/"))
				old := mustURL(e.t, cb).Query().Get("code")
				u := mustURL(e.t, second)
				q := u.Query()
				q.Set("code", old)
				u.RawQuery = q.Encode()
				return b.get(u.String())
			},
			wantStatus: http.StatusUnauthorized, wantReason: "CODE_EXCHANGE_FAILED", wantText: "refused the authorization code",
		},
		{
			name: "wrong nonce",
			run: func(e *env, b *browser) response {
				e.oidc.QueueUser(mockUser("alice@example.com"))
				u := e.startLogin(b, "/")
				q := u.Query()
				q.Set("nonce", "not-the-nonce")
				u.RawQuery = q.Encode()
				return b.get(e.authorize(b, u))
			},
			wantStatus: http.StatusUnauthorized, wantReason: "NONCE_MISMATCH", wantText: "nonce does not match",
		},
		{
			name: "another browser",
			run: func(e *env, b *browser) response {
				e.oidc.QueueUser(mockUser("alice@example.com"))
				cb := e.authorize(b, e.startLogin(b, "/"))
				return e.browser().get(cb) // a victim's browser, sent the attacker's callback
			},
			wantStatus: http.StatusBadRequest, wantReason: "STATE_BROWSER_MISMATCH", wantText: "not started in this browser",
		},
		{
			name: "no role",
			run: func(e *env, b *browser) response {
				return e.login(b, mockUser("mallory@elsewhere.example"), "/")
			},
			wantStatus: http.StatusForbidden, wantReason: ReasonNoRole, wantText: "mallory@elsewhere.example has no portal role",
		},
		{
			name: "absolute redirect",
			run: func(e *env, b *browser) response {
				return b.get(e.srv.URL + "/auth/login?redirect=" + url.QueryEscape("https://evil.example/x"))
			},
			wantStatus: http.StatusBadRequest, wantReason: "BAD_REDIRECT", wantText: "must be a path on this site",
		},
		{
			name: "scheme-relative redirect",
			run: func(e *env, b *browser) response {
				return b.get(e.srv.URL + "/auth/login?redirect=" + url.QueryEscape("//evil.example/x"))
			},
			wantStatus: http.StatusBadRequest, wantReason: "BAD_REDIRECT", wantText: "must be a path on this site",
		},
		{
			name: "backslash redirect",
			run: func(e *env, b *browser) response {
				return b.get(e.srv.URL + "/auth/login?redirect=" + url.QueryEscape(`/\evil.example`))
			},
			wantStatus: http.StatusBadRequest, wantReason: "BAD_REDIRECT", wantText: "must be a path on this site",
		},
		{
			name: "issuer error",
			run: func(e *env, b *browser) response {
				u := e.startLogin(b, "/")
				return b.get(e.srv.URL + "/auth/callback?error=access_denied&error_description=user+said+no&state=" + u.Query().Get("state"))
			},
			wantStatus: http.StatusUnauthorized, wantReason: "ISSUER_ERROR", wantText: "access_denied (user said no)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			b := e.browser()
			r := tt.run(e, b)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.wantStatus)
			}
			if tt.wantReason == "" {
				return
			}
			if r.reason() != tt.wantReason || !strings.Contains(r.body, tt.wantText) {
				t.Errorf("body = %s, want reason %s and %q", r.body, tt.wantReason, tt.wantText)
			}
			if _, w := e.whoami(b, "GET", nil); w.status == http.StatusOK && tt.name != "reused state" && tt.name != "reused code" {
				t.Errorf("whoami after a failed login = %d, want no session", w.status)
			}
			evs := e.events(SubjectLoginFailed)
			if len(evs) != 1 || !strings.HasPrefix(evs[0].payload.(*identityv1.LoginFailed).GetReason(), tt.wantReason) {
				t.Fatalf("LoginFailed events = %+v, want one with reason %s", evs, tt.wantReason)
			}
			wantOutcome := "failure"
			if tt.wantStatus == http.StatusForbidden {
				wantOutcome = "denied"
			}
			if evs[0].outcome != wantOutcome {
				t.Errorf("LoginFailed outcome = %q, want %q", evs[0].outcome, wantOutcome)
			}
		})
	}
}

func TestLoginErrorPageIsHTML(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.browser().do("GET", e.srv.URL+"/auth/callback?code=x&state=forged", nil, map[string]string{"Accept": "text/html"})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "<html") || !strings.Contains(r.body, "start the login again") {
		t.Fatalf("callback for a browser = %d %s, want an HTML page saying what to do", r.status, r.body)
	}
	if strings.Contains(r.body, "forged") {
		t.Errorf("error page echoes the state: %s", r.body)
	}
}

func TestGroupsAndDomainRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		user *mockUserArgs
		want authv1.Role
	}{
		{&mockUserArgs{"reader@elsewhere.example", []string{"readers"}}, authv1.Role_ROLE_VIEWER},
		{&mockUserArgs{"bob@ops.example.com", nil}, authv1.Role_ROLE_OPERATOR},
		// The highest matching rule wins.
		{&mockUserArgs{"carol@ops.example.com", []string{"readers"}}, authv1.Role_ROLE_OPERATOR},
	}
	for _, tt := range tests {
		b := e.browser()
		if r := e.login(b, mockUser(tt.user.email, tt.user.groups...), "/"); r.status != http.StatusSeeOther {
			t.Fatalf("login %s = %d %s", tt.user.email, r.status, r.body)
		}
		id, _ := e.whoami(b, "GET", nil)
		if id.Role != tt.want {
			t.Errorf("role of %s = %v, want %v", tt.user.email, id.Role, tt.want)
		}
	}
}

type mockUserArgs struct {
	email  string
	groups []string
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	login := func(t *testing.T) (*env, *browser, auth.Identity) {
		e := newEnv(t, envOptions{})
		b := e.browser()
		if r := e.login(b, mockUser("alice@example.com"), "/"); r.status != http.StatusSeeOther {
			t.Fatalf("login = %d %s", r.status, r.body)
		}
		id, _ := e.whoami(b, "GET", nil)
		return e, b, id
	}
	expiresAt := func(e *env, id auth.Identity) (exp, seen time.Time) {
		hash, _ := hexHash(id.SessionID)
		if err := e.pool.QueryRow(context.Background(), `SELECT expires_at, last_seen_at FROM identity.sessions WHERE id = $1`, hash).Scan(&exp, &seen); err != nil {
			t.Fatal(err)
		}
		return exp, seen
	}

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		e, b, id := login(t)
		e.clock.Advance(31 * time.Minute)
		_, w := e.whoami(b, "GET", nil)
		if w.status != http.StatusUnauthorized || w.reason() != ReasonSessionExpired || !strings.Contains(w.body, "unused for 30m0s") {
			t.Fatalf("whoami after 31m idle = %d %s, want 401 %s naming the idle limit", w.status, w.body, ReasonSessionExpired)
		}
		_, w = e.whoami(b, "GET", nil)
		if w.status != http.StatusUnauthorized || w.reason() != ReasonSessionEnded {
			t.Fatalf("whoami again = %d %s, want 401 %s", w.status, w.body, ReasonSessionEnded)
		}
		out := e.events(SubjectLoggedOut)
		if len(out) != 1 || out[0].payload.(*identityv1.LoggedOut).GetReason() != "expired" || out[0].actor != "system" {
			t.Fatalf("LoggedOut events = %+v, want exactly one, expired, by system", out)
		}
		if _, err := e.svc.SessionIdentity(context.Background(), id.SessionID); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("SessionIdentity = %v, want Unauthenticated", err)
		}
	})

	t.Run("sliding renewal", func(t *testing.T) {
		t.Parallel()
		e, b, id := login(t)
		exp0, seen0 := expiresAt(e, id)
		e.clock.Advance(30 * time.Second) // less than a minute: no write
		if _, w := e.whoami(b, "GET", nil); w.status != http.StatusOK {
			t.Fatalf("whoami = %d %s", w.status, w.body)
		}
		if exp, seen := expiresAt(e, id); !exp.Equal(exp0) || !seen.Equal(seen0) {
			t.Errorf("session renewed after 30s: expires %v -> %v", exp0, exp)
		}
		e.clock.Advance(20 * time.Minute)
		got, w := e.whoami(b, "GET", nil)
		if w.status != http.StatusOK {
			t.Fatalf("whoami = %d %s", w.status, w.body)
		}
		exp, _ := expiresAt(e, id)
		if want := e.clock.Now().Add(30 * time.Minute); !exp.Equal(want.Truncate(time.Microsecond)) {
			t.Errorf("expires_at after renewal = %v, want now+30m = %v", exp, want)
		}
		if !got.Until.Equal(exp) {
			t.Errorf("Until = %v, want the session's expiry %v", got.Until, exp)
		}
	})

	t.Run("absolute", func(t *testing.T) {
		t.Parallel()
		e, b, id := login(t)
		// Used every 20 minutes, the session never idles out, but ends at 12h.
		for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
			e.clock.Advance(20 * time.Minute)
			if _, w := e.whoami(b, "GET", nil); w.status != http.StatusOK {
				t.Fatalf("whoami at %s = %d %s", elapsed+20*time.Minute, w.status, w.body)
			}
		}
		exp, _ := expiresAt(e, id)
		var abs time.Time
		hash, _ := hexHash(id.SessionID)
		e.pool.QueryRow(context.Background(), `SELECT absolute_expires_at FROM identity.sessions WHERE id = $1`, hash).Scan(&abs) //nolint:errcheck
		if exp.After(abs) {
			t.Errorf("expires_at %v is past the absolute limit %v", exp, abs)
		}
		e.clock.Advance(20 * time.Minute)
		_, w := e.whoami(b, "GET", nil)
		if w.status != http.StatusUnauthorized || w.reason() != ReasonSessionExpired || !strings.Contains(w.body, "limit of 12h0m0s") {
			t.Fatalf("whoami past 12h = %d %s, want 401 %s naming the 12h limit", w.status, w.body, ReasonSessionExpired)
		}
		if n := len(e.events(SubjectLoggedOut)); n != 1 {
			t.Errorf("LoggedOut events = %d, want 1", n)
		}
	})
}

func TestDevLogin(t *testing.T) {
	t.Parallel()
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		b := e.browser()
		for _, r := range []response{
			b.get(e.srv.URL + "/auth/dev"),
			b.do("POST", e.srv.URL+"/auth/dev/login", strings.NewReader(`{"email":"x@example.com","role":"admin"}`), map[string]string{"Content-Type": "application/json"}),
		} {
			if r.status != http.StatusNotFound || r.reason() != "DEV_LOGIN_DISABLED" || !strings.Contains(r.body, "AUTH_DEV_LOGIN=true") {
				t.Errorf("dev login while disabled = %d %s, want 404 saying how to enable it", r.status, r.body)
			}
		}
		if _, w := e.whoami(b, "GET", nil); w.status != http.StatusUnauthorized {
			t.Errorf("whoami = %d, want 401", w.status)
		}
	})

	t.Run("enabled", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{vars: map[string]string{"AUTH_DEV_LOGIN": "true"}})
		b := e.browser()
		if r := b.do("GET", e.srv.URL+"/auth/dev", nil, map[string]string{"Accept": "text/html"}); r.status != http.StatusOK || !strings.Contains(r.body, "DEVELOPMENT LOGIN") {
			t.Fatalf("GET /auth/dev = %d %s, want the labelled form", r.status, r.body)
		}
		id, _ := e.devLogin(b, "bob@example.com", "operator")
		if id.Kind != auth.KindDev || id.Actor() != "dev:bob@example.com" || id.Role != authv1.Role_ROLE_OPERATOR {
			t.Fatalf("Authenticate = %+v, want kind dev, actor dev:bob@example.com, operator", id)
		}
		me, err := e.client(id).GetMe(context.Background(), &identityv1.GetMeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !me.GetPrincipal().GetDevLogin() || me.GetPrincipal().GetActor() != "dev:bob@example.com" || me.GetCsrfToken() == "" || me.GetSessionExpireTime() == nil {
			t.Errorf("GetMe = %v, want dev_login, the dev actor, a CSRF token and the session's expiry", me)
		}
		in := e.events(SubjectLoggedIn)
		if len(in) != 1 || in[0].payload.(*identityv1.LoggedIn).GetPrincipal().GetKind() != identityv1.PrincipalKind_PRINCIPAL_KIND_DEV || in[0].actor != "dev:bob@example.com" {
			t.Fatalf("LoggedIn events = %+v, want one of kind DEV by dev:bob@example.com", in)
		}

		// A form post from another site is refused.
		r := b.do("POST", e.srv.URL+"/auth/dev/login", strings.NewReader("email=eve@example.com&role=admin"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"})
		if r.status != http.StatusForbidden {
			t.Errorf("cross-site dev login = %d %s, want 403", r.status, r.body)
		}
		// The form from this site logs in and redirects.
		r = e.browser().do("POST", e.srv.URL+"/auth/dev/login", strings.NewReader("email=eve@example.com&role=viewer&redirect=%2Fagents"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL})
		if r.status != http.StatusSeeOther || r.location != "/agents" || r.cookie("portal_session") == nil {
			t.Errorf("dev login form = %d %q %s, want 303 to /agents with a session", r.status, r.location, r.body)
		}
	})
}

func TestOIDCOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noOIDC: true})
	b := e.browser()
	r := b.get(e.srv.URL + "/auth/login")
	if r.status != http.StatusNotFound || r.reason() != "OIDC_DISABLED" || !strings.Contains(r.body, "OIDC_CLIENT_ID") {
		t.Fatalf("/auth/login without OIDC = %d %s, want 404 naming OIDC_CLIENT_ID", r.status, r.body)
	}
	r = b.get(e.srv.URL + "/auth/config")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"oidc_enabled":false`) || !strings.Contains(r.body, `"dev_login_enabled":false`) {
		t.Fatalf("/auth/config = %d %s", r.status, r.body)
	}
}

func TestIssuerDown(t *testing.T) {
	t.Parallel()
	// Nothing listens there: the service starts anyway; a login says so.
	e := newEnv(t, envOptions{noOIDC: true, vars: map[string]string{
		"OIDC_ISSUER": "http://127.0.0.1:1/issuer", "OIDC_CLIENT_ID": "portal", "OIDC_CLIENT_SECRET": "s",
		"OIDC_REDIRECT_URL": "http://localhost/auth/callback",
	}})
	r := e.browser().get(e.srv.URL + "/auth/login")
	if r.status != http.StatusServiceUnavailable || r.reason() != "ISSUER_UNAVAILABLE" {
		t.Fatalf("/auth/login with the issuer down = %d %s, want 503", r.status, r.body)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	b := e.browser()
	if r := e.login(b, mockUser("alice@example.com"), "/"); r.status != http.StatusSeeOther {
		t.Fatalf("login = %d", r.status)
	}
	csrf := b.cookieValue(e, CSRFCookie)
	admin, _ := e.whoami(b, "GET", nil)
	secret, err := e.svc.CreateTokenDirect(context.Background(), "ci", authv1.Role_ROLE_OPERATOR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = admin
	tests := []struct {
		name   string
		b      *browser
		method string
		hdr    map[string]string
		want   int
		reason string
	}{
		{"cookie POST without token", b, "POST", nil, http.StatusForbidden, ReasonCSRFMissing},
		{"cookie DELETE with a wrong token", b, "DELETE", map[string]string{CSRFHeader: "wrong"}, http.StatusForbidden, ReasonCSRFMismatch},
		{"cookie PUT with another session's token", b, "PUT", map[string]string{CSRFHeader: randomString(32)}, http.StatusForbidden, ReasonCSRFMismatch},
		{"cookie POST with the token", b, "POST", map[string]string{CSRFHeader: csrf}, http.StatusOK, ""},
		{"cookie GET without token", b, "GET", nil, http.StatusOK, ""},
		{"bearer POST without token", e.browser(), "POST", map[string]string{"Authorization": "Bearer " + secret}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		_, r := e.whoami(tt.b, tt.method, tt.hdr)
		if r.status != tt.want || r.reason() != tt.reason {
			t.Errorf("%s: %d %s, want %d %s", tt.name, r.status, r.body, tt.want, tt.reason)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	base := Config{SessionIdle: time.Minute, SessionMax: time.Hour}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"rules", func(c *Config) { c.RoleRules = []string{"admin=a@x.io", "operator=@x.io", "viewer=group:r"} }, ""},
		{"unknown role", func(c *Config) { c.RoleRules = []string{"root=a@x.io"} }, "AUTH_ROLE_RULES"},
		{"no matcher", func(c *Config) { c.RoleRules = []string{"admin"} }, "AUTH_ROLE_RULES"},
		{"bad matcher", func(c *Config) { c.RoleRules = []string{"admin=alice"} }, "AUTH_ROLE_RULES"},
		{"bad default", func(c *Config) { c.DefaultRole = "boss" }, "AUTH_DEFAULT_ROLE"},
		{"idle over max", func(c *Config) { c.SessionIdle = 2 * time.Hour }, "AUTH_SESSION_IDLE"},
		{"no redirect", func(c *Config) { c.OIDCClientID, c.OIDCClientSecret, c.OIDCIssuer = "id", "s", "https://i.example" }, "OIDC_REDIRECT_URL"},
		{"bad issuer", func(c *Config) { c.OIDCClientID, c.OIDCIssuer = "id", "accounts.google.com" }, "OIDC_ISSUER"},
	}
	for _, tt := range tests {
		c := base
		tt.mod(&c)
		_, err := c.validate()
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: validate() = %v, want an error naming %q", tt.name, err, tt.wantErr)
		}
	}

	m, _ := Config{RoleRules: []string{"viewer=group:r", "admin=Alice@X.io", "operator=@x.io"}, SessionIdle: 1, SessionMax: 1}.validate()
	for _, tt := range []struct {
		email  string
		groups []string
		want   authv1.Role
	}{
		{"alice@x.io", nil, authv1.Role_ROLE_ADMIN},
		{"bob@x.io", []string{"r"}, authv1.Role_ROLE_OPERATOR},
		{"carl@y.io", []string{"r"}, authv1.Role_ROLE_VIEWER},
		{"dan@notx.io", nil, authv1.Role_ROLE_UNSPECIFIED},
		{"eve@x.io.evil", nil, authv1.Role_ROLE_UNSPECIFIED},
	} {
		if got := m.of(tt.email, tt.groups); got != tt.want {
			t.Errorf("role of %s %v = %v, want %v", tt.email, tt.groups, got, tt.want)
		}
	}
}

func TestSafeRedirect(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"https://evil.example", "//evil.example", `/\evil.example`, "evil.example", "javascript:alert(1)", "/a\nb"} {
		if got, err := safeRedirect(p); err == nil {
			t.Errorf("safeRedirect(%q) = %q, want an error", p, got)
		}
	}
	for _, p := range []string{"", "/", "/agents?x=1#y"} {
		if _, err := safeRedirect(p); err != nil {
			t.Errorf("safeRedirect(%q) = %v, want ok", p, err)
		}
	}
}
