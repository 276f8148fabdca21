package main

// Tests of the portal's front door, through the real program: OIDC login
// (mockoidc as the issuer, in the test process), the development login,
// temporary grants, the WebSocket's door, rate limits, security headers, and
// that no secret reaches a log line or an error response.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/platformportal/portal/platform/pgtest"
)

// roleRules maps the OIDC tests' users to roles.
const roleRules = "admin=alice@example.com,operator=@example.com,viewer=@viewers.example"

// issuer is a mock OIDC issuer that also keeps what its token endpoint was
// sent and handed out (code, PKCE verifier, access, ID and refresh tokens),
// so that a test can look for them where they must not be.
type issuer struct {
	*mockoidc.MockOIDC

	mu   sync.Mutex
	seen []secret
}

// secret is a value that must not leak, with what it is.
type secret struct{ what, value string }

func startIssuer(t *testing.T) *issuer {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{MockOIDC: m}
	if err := m.AddMiddleware(is.recordTokens); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(lis, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() }) //nolint:errcheck
	return is
}

func (is *issuer) recordTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mockoidc.TokenEndpoint {
			next.ServeHTTP(w, r)
			return
		}
		if err := r.ParseForm(); err == nil {
			is.record("authorization code (token request)", r.PostForm.Get("code"))
			is.record("PKCE code verifier", r.PostForm.Get("code_verifier"))
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var tr struct {
			AccessToken  string `json:"access_token"`
			IDToken      string `json:"id_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &tr) == nil {
			is.record("OIDC access token", tr.AccessToken)
			is.record("OIDC ID token", tr.IDToken)
			is.record("OIDC refresh token", tr.RefreshToken)
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes()) //nolint:errcheck
	})
}

func (is *issuer) record(what, v string) {
	if v == "" {
		return
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.seen = append(is.seen, secret{what, v})
}

func (is *issuer) secrets() []secret {
	is.mu.Lock()
	defer is.mu.Unlock()
	return append([]secret(nil), is.seen...)
}

func oidcUser(email string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true,
		PreferredUsername: strings.Split(email, "@")[0]}
}

// oidcEnv is the configuration of a portal whose login goes to is, on addr
// (chosen before the start, so that the callback URL is known).
func oidcEnv(is *issuer, addr string) map[string]string {
	return map[string]string{
		"PORTAL_HTTP_ADDR":   addr,
		"OIDC_ISSUER":        is.Issuer(),
		"OIDC_CLIENT_ID":     is.ClientID,
		"OIDC_CLIENT_SECRET": is.ClientSecret,
		"OIDC_REDIRECT_URL":  "http://" + addr + "/auth/callback",
		"AUTH_COOKIE_SECURE": "false",
		"AUTH_ROLE_RULES":    roleRules,
	}
}

// startOIDCPortal runs a portal on a fresh database whose login goes to is.
func startOIDCPortal(t *testing.T, is *issuer, env map[string]string) *portal {
	t.Helper()
	vars := oidcEnv(is, freeAddr(t))
	maps.Copy(vars, env)
	return startPortal(t, pgtest.NewDatabase(t), t.TempDir(), vars)
}

// browser is an HTTP client with its own cookie jar that follows no
// redirect, so each step of a login can be checked. It goes around the
// tests' tokenTransport: it sends only the credentials it has.
type browser struct {
	t testing.TB
	c *http.Client
	// errors, when set, keeps every error response body received.
	errors *bodyLog
}

func newBrowser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	rt := http.DefaultTransport
	if tt, ok := rt.(*tokenTransport); ok {
		rt = tt.next
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Transport: rt, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// bodyLog is a list of error response bodies with where they came from.
type bodyLog struct {
	mu      sync.Mutex
	entries []secret // what: "METHOD /path -> status", value: the body
}

func (l *bodyLog) add(where, body string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, secret{where, body})
}

func (l *bodyLog) all() []secret {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]secret(nil), l.entries...)
}

// reply is an HTTP response, read.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) location() string { return r.header.Get("Location") }

func (r reply) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// errorJSON is the portal's error body: the REST API's {code, message} and
// the login's {code, message, reason}.
type errorJSON struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

func (r reply) err() errorJSON {
	var e errorJSON
	json.Unmarshal([]byte(r.body), &e) //nolint:errcheck // an empty result says enough
	return e
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends a request, body as JSON unless it is a string or nil, asking for
// JSON answers.
func (b *browser) do(method, u string, body any, hdr map[string]string) reply {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(data)}
	if b.errors != nil && r.status >= 400 {
		b.errors.add(fmt.Sprintf("%s %s -> %d", method, req.URL.Path, r.status), r.body)
	}
	return r
}

func (b *browser) get(u string) reply { b.t.Helper(); return b.do("GET", u, nil, nil) }

// jarCookie is the value of the jar's cookie name for base.
func (b *browser) jarCookie(base, name string) string {
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// startLogin follows /auth/login to the issuer's authorize URL.
func (b *browser) startLogin(p *portal, is *issuer) *url.URL {
	b.t.Helper()
	r := b.get(p.base + "/auth/login?redirect=" + url.QueryEscape("/agents"))
	if r.status != http.StatusFound || !strings.HasPrefix(r.location(), is.AuthorizationEndpoint()) {
		b.t.Fatalf("GET /auth/login = %d %q %s, want 302 to the issuer %s", r.status, r.location(), r.body, is.AuthorizationEndpoint())
	}
	u, err := url.Parse(r.location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// authorize follows the issuer's authorize URL to the callback URL it sends
// the browser back to.
func (b *browser) authorize(p *portal, u *url.URL) string {
	b.t.Helper()
	r := b.get(u.String())
	if r.status != http.StatusFound || !strings.HasPrefix(r.location(), p.base+"/auth/callback?") {
		b.t.Fatalf("authorize = %d %q %s, want 302 to %s/auth/callback", r.status, r.location(), r.body, p.base)
	}
	return r.location()
}

// login logs in as email through the whole code flow; it returns the
// callback's response and URL.
func (b *browser) login(p *portal, is *issuer, email string) (reply, string) {
	b.t.Helper()
	is.QueueUser(oidcUser(email))
	cb := b.authorize(p, b.startLogin(p, is))
	r := b.get(cb)
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("callback for %s = %d %s, want 303", email, r.status, r.body)
	}
	return r, cb
}

// meJSON is GET /api/v1/me.
type meJSON struct {
	Principal struct {
		Subject  string `json:"subject"`
		Email    string `json:"email"`
		Kind     string `json:"kind"`
		Role     string `json:"role"`
		BaseRole string `json:"baseRole"`
		DevLogin bool   `json:"devLogin"`
		Actor    string `json:"actor"`
	} `json:"principal"`
	Grants            []grantJSON `json:"grants"`
	SessionExpireTime string      `json:"sessionExpireTime"`
	CSRFToken         string      `json:"csrfToken"`
}

type grantJSON struct {
	ID         string `json:"id"`
	Role       string `json:"role"`
	State      string `json:"state"`
	ExpireTime string `json:"expireTime"`
}

func (b *browser) me(p *portal) (meJSON, reply) {
	b.t.Helper()
	r := b.get(p.base + "/api/v1/me")
	var me meJSON
	if r.status == http.StatusOK {
		r.decode(b.t, &me)
	}
	return me, r
}

// devLogin logs in through the development login as email with role and
// returns the session's CSRF token.
func (b *browser) devLogin(p *portal, email, role string) string {
	b.t.Helper()
	r := b.do("POST", p.base+"/auth/dev/login", map[string]string{"email": email, "role": role}, nil)
	var out struct {
		CSRFToken string `json:"csrf_token"`
		Actor     string `json:"actor"`
		DevLogin  bool   `json:"dev_login"`
	}
	if r.status == http.StatusOK {
		r.decode(b.t, &out)
	}
	if r.status != http.StatusOK || out.CSRFToken == "" || !out.DevLogin {
		b.t.Fatalf("POST /auth/dev/login as %s = %d %s, want 200 with a CSRF token", email, r.status, r.body)
	}
	return out.CSRFToken
}

// newAgent is the body of a create request.
func newAgent(name string) map[string]any {
	return map[string]any{"name": name, "kind": "AGENT_KIND_MEMORY"}
}

func TestLoginThroughGateway(t *testing.T) {
	t.Parallel()
	t.Run("session", func(t *testing.T) {
		t.Parallel()
		is := startIssuer(t)
		p := startOIDCPortal(t, is, nil)

		b := newBrowser(t)
		is.QueueUser(oidcUser("bob@example.com"))
		authz := b.startLogin(p, is)
		q := authz.Query()
		if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" || len(q.Get("state")) < 32 ||
			len(q.Get("nonce")) < 32 || q.Get("redirect_uri") != p.base+"/auth/callback" || q.Get("client_id") != is.ClientID {
			t.Fatalf("authorize URL query = %v, want an S256 code challenge, a state, a nonce, the callback and the client id", q)
		}
		if strings.Contains(authz.String(), is.ClientSecret) {
			t.Errorf("authorize URL %s carries the client secret", authz)
		}
		cb := b.authorize(p, authz)
		r := b.get(cb)
		if r.status != http.StatusSeeOther || r.location() != "/agents" {
			t.Fatalf("callback = %d %q %s, want 303 to the saved path /agents", r.status, r.location(), r.body)
		}
		sc := r.cookie("portal_session")
		if sc == nil || sc.Value == "" || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" {
			t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/", sc)
		}
		cc := r.cookie("portal_csrf")
		if cc == nil || cc.Value == "" || cc.HttpOnly {
			t.Fatalf("CSRF cookie = %+v, want one readable by the page's script", cc)
		}

		me, w := b.me(p)
		if w.status != http.StatusOK {
			t.Fatalf("GET /api/v1/me = %d %s", w.status, w.body)
		}
		if me.Principal.Email != "bob@example.com" || me.Principal.Role != "ROLE_OPERATOR" || me.Principal.DevLogin ||
			me.Principal.Kind != "PRINCIPAL_KIND_USER" || me.Principal.Actor != "bob@example.com" {
			t.Errorf("GET /api/v1/me principal = %+v, want bob@example.com, ROLE_OPERATOR by AUTH_ROLE_RULES, not a dev login", me.Principal)
		}
		if me.CSRFToken == "" || me.CSRFToken != cc.Value || me.SessionExpireTime == "" {
			t.Errorf("GET /api/v1/me csrfToken = %q, sessionExpireTime = %q; want the CSRF cookie's value and the expiry", me.CSRFToken, me.SessionExpireTime)
		}

		// A write with the cookie needs the CSRF token.
		if r := b.do("POST", p.base+"/api/v1/agents", newAgent("by-cookie"), nil); r.status != http.StatusForbidden || !strings.Contains(r.err().Message, "X-CSRF-Token") {
			t.Errorf("cookie POST /api/v1/agents without X-CSRF-Token = %d %s, want 403 naming the header", r.status, r.body)
		}
		if r := b.do("POST", p.base+"/api/v1/agents", newAgent("by-cookie"), map[string]string{"X-CSRF-Token": "not-the-token"}); r.status != http.StatusForbidden {
			t.Errorf("cookie POST /api/v1/agents with a wrong X-CSRF-Token = %d %s, want 403", r.status, r.body)
		}
		var created agentResp
		r = b.do("POST", p.base+"/api/v1/agents", newAgent("by-cookie"), map[string]string{"X-CSRF-Token": me.CSRFToken})
		if r.status != http.StatusOK {
			t.Fatalf("cookie POST /api/v1/agents with X-CSRF-Token = %d %s, want 200", r.status, r.body)
		}
		r.decode(t, &created)
		var h struct {
			Transitions []struct {
				Actor string `json:"actor"`
			} `json:"transitions"`
		}
		if code := call(t, "GET", p.base+"/api/v1/agents/"+created.Agent.ID+"/history", nil, &h); code != 200 || len(h.Transitions) != 1 || h.Transitions[0].Actor != "bob@example.com" {
			t.Errorf("history of the agent bob created = HTTP %d %+v, want one transition by bob@example.com", code, h.Transitions)
		}

		// A viewer may read, not write.
		v := newBrowser(t)
		v.login(p, is, "vera@viewers.example")
		vme, w := v.me(p)
		if w.status != http.StatusOK || vme.Principal.Role != "ROLE_VIEWER" {
			t.Fatalf("GET /api/v1/me as vera = %d %s, want ROLE_VIEWER", w.status, w.body)
		}
		if r := v.get(p.base + "/api/v1/agents"); r.status != http.StatusOK {
			t.Errorf("viewer GET /api/v1/agents = %d %s, want 200", r.status, r.body)
		}
		if r := v.do("POST", p.base+"/api/v1/agents", newAgent("by-viewer"), map[string]string{"X-CSRF-Token": vme.CSRFToken}); r.status != http.StatusForbidden {
			t.Errorf("viewer POST /api/v1/agents = %d %s, want 403", r.status, r.body)
		}

		// Logout clears the cookies and ends the session for good.
		if r := b.do("POST", p.base+"/auth/logout", nil, nil); r.status != http.StatusForbidden {
			t.Errorf("POST /auth/logout without X-CSRF-Token = %d %s, want 403", r.status, r.body)
		}
		r = b.do("POST", p.base+"/auth/logout", nil, map[string]string{"X-CSRF-Token": me.CSRFToken})
		if r.status != http.StatusOK || !strings.Contains(r.body, `"logged_out":true`) {
			t.Fatalf("POST /auth/logout = %d %s, want 200 logged_out", r.status, r.body)
		}
		if c := r.cookie("portal_session"); c == nil || c.Value != "" || c.MaxAge >= 0 {
			t.Errorf("logout's session cookie = %+v, want it cleared (empty, Max-Age<0)", c)
		}
		if c := b.jarCookie(p.base, "portal_session"); c != "" {
			t.Errorf("the browser still has a session cookie after logout")
		}
		// The old cookie, replayed as a thief would, is refused.
		r = newBrowser(t).do("GET", p.base+"/api/v1/me", nil, map[string]string{"Cookie": "portal_session=" + sc.Value})
		if r.status != http.StatusUnauthorized || !strings.Contains(r.err().Message, "ended") {
			t.Errorf("GET /api/v1/me with the logged-out cookie = %d %s, want 401 saying the session ended", r.status, r.body)
		}

		// Each way a login can go wrong fails with a clear message and no
		// session.
		failures := []struct {
			name       string
			run        func(b *browser) reply
			wantStatus int
			wantReason string
			wantText   string
		}{
			{
				name: "forged state",
				run: func(b *browser) reply {
					b.startLogin(p, is)
					return b.get(p.base + "/auth/callback?code=forged-code&state=" + url.QueryEscape(randomText(t)))
				},
				wantStatus: http.StatusBadRequest, wantReason: "STATE_UNKNOWN", wantText: "unknown or was already used",
			},
			{
				name: "callback replayed",
				run: func(b *browser) reply {
					// Another browser completes a login; its callback URL,
					// replayed with the same login cookie, is refused.
					_, cb := newBrowser(t).login(p, is, "carol@example.com")
					u, _ := url.Parse(cb)
					return b.do("GET", cb, nil, map[string]string{"Cookie": "portal_login=" + u.Query().Get("state")})
				},
				wantStatus: http.StatusBadRequest, wantReason: "STATE_UNKNOWN", wantText: "already used",
			},
			{
				name: "code reused",
				run: func(b *browser) reply {
					_, first := newBrowser(t).login(p, is, "carol@example.com")
					old, _ := url.Parse(first)
					// A new login of this browser (its own state) presenting
					// the used code.
					is.QueueUser(oidcUser("carol@example.com"))
					u, _ := url.Parse(b.authorize(p, b.startLogin(p, is)))
					q := u.Query()
					q.Set("code", old.Query().Get("code"))
					u.RawQuery = q.Encode()
					return b.get(u.String())
				},
				wantStatus: http.StatusUnauthorized, wantReason: "CODE_EXCHANGE_FAILED", wantText: "refused the authorization code",
			},
			{
				name: "wrong nonce",
				run: func(b *browser) reply {
					is.QueueUser(oidcUser("carol@example.com"))
					u := b.startLogin(p, is)
					q := u.Query()
					q.Set("nonce", "not-the-nonce-of-this-login")
					u.RawQuery = q.Encode()
					return b.get(b.authorize(p, u))
				},
				wantStatus: http.StatusUnauthorized, wantReason: "NONCE_MISMATCH", wantText: "nonce does not match",
			},
		}
		for _, tt := range failures {
			t.Run(tt.name, func(t *testing.T) {
				b := newBrowser(t)
				r := tt.run(b)
				if e := r.err(); r.status != tt.wantStatus || e.Reason != tt.wantReason || !strings.Contains(e.Message, tt.wantText) {
					t.Errorf("callback = %d %s, want %d %s saying %q", r.status, r.body, tt.wantStatus, tt.wantReason, tt.wantText)
				}
				if c := r.cookie("portal_session"); c != nil && c.Value != "" {
					t.Errorf("failed login set a session cookie")
				}
				if _, w := b.me(p); w.status != http.StatusUnauthorized {
					t.Errorf("GET /api/v1/me after a failed login = %d %s, want 401", w.status, w.body)
				}
			})
		}
	})

	t.Run("idle session expires", func(t *testing.T) {
		t.Parallel()
		is := startIssuer(t)
		p := startOIDCPortal(t, is, map[string]string{"AUTH_SESSION_IDLE": "2s"})
		b := newBrowser(t)
		b.login(p, is, "alice@example.com")
		if me, w := b.me(p); w.status != http.StatusOK || me.Principal.Role != "ROLE_ADMIN" {
			t.Fatalf("GET /api/v1/me = %d %s, want alice, ROLE_ADMIN", w.status, w.body)
		}
		time.Sleep(2500 * time.Millisecond)
		_, w := b.me(p)
		if m := w.err().Message; w.status != http.StatusUnauthorized || !strings.Contains(m, "expired") || !strings.Contains(m, "2s") {
			t.Errorf("GET /api/v1/me after 2.5s idle = %d %s, want 401 saying the session expired after 2s unused", w.status, w.body)
		}
		if _, w := b.me(p); w.status != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/me again = %d %s, want 401", w.status, w.body)
		}
	})
}

func randomText(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestDevLogin(t *testing.T) {
	t.Parallel()
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), nil)
		b := newBrowser(t)
		for _, r := range []reply{
			b.get(p.base + "/auth/dev"),
			b.do("POST", p.base+"/auth/dev/login", map[string]string{"email": "eve@example.com", "role": "admin"}, nil),
		} {
			if e := r.err(); r.status != http.StatusNotFound || e.Reason != "DEV_LOGIN_DISABLED" || !strings.Contains(e.Message, "AUTH_DEV_LOGIN=true") {
				t.Errorf("dev login while disabled = %d %s, want 404 saying to set AUTH_DEV_LOGIN=true", r.status, r.body)
			}
		}
		if r := b.get(p.base + "/auth/config"); !strings.Contains(r.body, `"dev_login_enabled":false`) {
			t.Errorf("GET /auth/config = %d %s, want dev_login_enabled false", r.status, r.body)
		}
		if _, w := b.me(p); w.status != http.StatusUnauthorized {
			t.Errorf("GET /api/v1/me = %d, want 401", w.status)
		}
	})

	t.Run("enabled", func(t *testing.T) {
		t.Parallel()
		p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"AUTH_DEV_LOGIN": "true", "AUTH_COOKIE_SECURE": "false"})
		b := newBrowser(t)
		csrf := b.devLogin(p, "dora@example.com", "operator")
		me, w := b.me(p)
		if w.status != http.StatusOK || !me.Principal.DevLogin || me.Principal.Actor != "dev:dora@example.com" ||
			me.Principal.Kind != "PRINCIPAL_KIND_DEV" || me.Principal.Role != "ROLE_OPERATOR" || me.CSRFToken != csrf {
			t.Fatalf("GET /api/v1/me = %d %s, want dev_login, actor dev:dora@example.com, ROLE_OPERATOR and the CSRF token", w.status, w.body)
		}

		// What she does is recorded as done by dev:dora@example.com.
		hdr := map[string]string{"X-CSRF-Token": csrf}
		r := b.do("POST", p.base+"/api/v1/agents", newAgent("dev-made"), hdr)
		if r.status != http.StatusOK {
			t.Fatalf("POST /api/v1/agents = %d %s", r.status, r.body)
		}
		var a agentResp
		r.decode(t, &a)
		if r := b.do("POST", p.base+"/api/v1/agents/"+a.Agent.ID+":provision", map[string]string{"etag": a.Agent.Etag}, hdr); r.status != http.StatusOK {
			t.Fatalf("provision = %d %s", r.status, r.body)
		}
		eventually(t, 15*time.Second, "the history has the creation and the provisioning, both by dev:dora@example.com", func() error {
			var h struct {
				Transitions []struct {
					Action string `json:"action"`
					Actor  string `json:"actor"`
				} `json:"transitions"`
			}
			r := b.get(p.base + "/api/v1/agents/" + a.Agent.ID + "/history")
			if r.status != http.StatusOK {
				return fmt.Errorf("HTTP %d %s", r.status, r.body)
			}
			r.decode(t, &h)
			if len(h.Transitions) != 2 {
				return fmt.Errorf("transitions %+v", h.Transitions)
			}
			for _, tr := range h.Transitions {
				if tr.Actor != "dev:dora@example.com" {
					t.Fatalf("transition %+v: actor %q, want dev:dora@example.com", tr, tr.Actor)
				}
			}
			return nil
		})
		eventually(t, 15*time.Second, "the audit log has the creation by dev:dora@example.com", func() error {
			var out struct {
				Entries []struct {
					Actor    string `json:"actor"`
					Resource string `json:"resource"`
				} `json:"entries"`
			}
			r := b.get(p.base + "/api/v1/audit/entries?action=portal.agents.v1.AgentCreated")
			if r.status != http.StatusOK {
				return fmt.Errorf("HTTP %d %s", r.status, r.body)
			}
			r.decode(t, &out)
			if len(out.Entries) != 1 {
				return fmt.Errorf("entries %+v", out.Entries)
			}
			if out.Entries[0].Actor != "dev:dora@example.com" {
				t.Fatalf("audit entry %+v: actor %q, want dev:dora@example.com", out.Entries[0], out.Entries[0].Actor)
			}
			return nil
		})
	})
}

// dialSocket opens /ws with hdr (through the tests' client, which adds the
// admin token unless hdr has credentials or X-Test-Anonymous).
func dialSocket(t testing.TB, base string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil {
		conn.SetReadLimit(1 << 20)
		t.Cleanup(func() { conn.CloseNow() }) //nolint:errcheck
	}
	return conn, resp, err
}

// socketClosed reads from conn in the background and reports how it ended:
// the close status and when.
func socketClosed(conn *websocket.Conn, timeout time.Duration) <-chan closeInfo {
	ch := make(chan closeInfo, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				ch <- closeInfo{status: websocket.CloseStatus(err), at: time.Now(), err: err}
				return
			}
		}
	}()
	return ch
}

type closeInfo struct {
	status websocket.StatusCode
	at     time.Time
	err    error
}

func TestGrantExpiresWithoutRestart(t *testing.T) {
	t.Parallel()
	const grantFor = 4 * time.Second
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"AUTH_DEV_LOGIN": "true", "AUTH_COOKIE_SECURE": "false"})
	b := newBrowser(t)
	csrf := b.devLogin(p, "gina@example.com", "viewer")
	hdr := map[string]string{"X-CSRF-Token": csrf}
	createAgent := func() reply { return b.do("POST", p.base+"/api/v1/agents", newAgent("granted"), hdr) }
	if r := createAgent(); r.status != http.StatusForbidden {
		t.Fatalf("viewer POST /api/v1/agents = %d %s, want 403", r.status, r.body)
	}

	r := b.do("POST", p.base+"/api/v1/grants", map[string]string{"role": "ROLE_OPERATOR", "reason": "incident 42: restart the fleet",
		"duration": fmt.Sprintf("%gs", grantFor.Seconds())}, hdr)
	var req struct{ Grant grantJSON }
	if r.status == http.StatusOK {
		r.decode(t, &req)
	}
	if r.status != http.StatusOK || req.Grant.State != "GRANT_STATE_PENDING" {
		t.Fatalf("POST /api/v1/grants = %d %s, want a pending grant", r.status, r.body)
	}
	if r := createAgent(); r.status != http.StatusForbidden {
		t.Fatalf("POST /api/v1/agents with the grant pending = %d %s, want 403", r.status, r.body)
	}
	var approved struct {
		Grant   grantJSON
		Message string
	}
	if code := call(t, "POST", p.base+"/api/v1/grants/"+req.Grant.ID+":approve", map[string]string{"reason": "ok"}, &approved); code != http.StatusOK || approved.Grant.State != "GRANT_STATE_ACTIVE" {
		t.Fatalf("admin approves: HTTP %d %+v, want the grant active", code, approved)
	}
	expires, err := time.Parse(time.RFC3339Nano, approved.Grant.ExpireTime)
	if err != nil {
		t.Fatalf("grant expireTime %q: %v", approved.Grant.ExpireTime, err)
	}

	// A socket opened while the grant holds is closed when it ends.
	conn, resp, err := dialSocket(t, p.base, http.Header{"Cookie": {"portal_session=" + b.jarCookie(p.base, "portal_session")}})
	if err != nil {
		t.Fatalf("dial /ws with the session: %v (%v)", err, resp)
	}
	closed := socketClosed(conn, grantFor+10*time.Second)

	if r := createAgent(); r.status != http.StatusOK {
		t.Fatalf("POST /api/v1/agents with the grant active = %d %s, want 200", r.status, r.body)
	}
	me, w := b.me(p)
	if w.status != http.StatusOK || me.Principal.Role != "ROLE_OPERATOR" || me.Principal.BaseRole != "ROLE_VIEWER" ||
		len(me.Grants) != 1 || me.Grants[0].ID != req.Grant.ID || me.Grants[0].State != "GRANT_STATE_ACTIVE" {
		t.Errorf("GET /api/v1/me with the grant active = %d %s, want ROLE_OPERATOR over ROLE_VIEWER and the active grant", w.status, w.body)
	}
	if time.Now().After(expires) {
		t.Fatalf("the grant of %s ran out before its checks were done; the test is too slow here", grantFor)
	}

	time.Sleep(time.Until(expires) + 200*time.Millisecond)
	if r := createAgent(); r.status != http.StatusForbidden {
		t.Errorf("the same POST /api/v1/agents after the grant expired = %d %s, want 403", r.status, r.body)
	}
	me, w = b.me(p)
	if w.status != http.StatusOK || me.Principal.Role != "ROLE_VIEWER" || len(me.Grants) != 0 {
		t.Errorf("GET /api/v1/me after the grant expired = %d %s, want ROLE_VIEWER and no active grant", w.status, w.body)
	}
	if late := accessEnded(t, closed, "the grant's expiry", expires); late > 2*time.Second || late < -500*time.Millisecond {
		t.Errorf("socket closed %s after the grant's expiry, want at it", late)
	}
}

// accessEnded waits for a socket to be closed with status 4001 and returns
// how long after since it was.
func accessEnded(t *testing.T, closed <-chan closeInfo, what string, since time.Time) time.Duration {
	t.Helper()
	c := <-closed // socketClosed gives up at its own timeout
	if c.status != websocket.StatusCode(4001) {
		t.Fatalf("after %s the socket ended with %v, want close status 4001", what, c.err)
	}
	return c.at.Sub(since)
}

func TestWebSocketDoor(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	p := startPortal(t, db, t.TempDir(), map[string]string{"AUTH_DEV_LOGIN": "true", "AUTH_COOKIE_SECURE": "false"})

	// The door: credentials, and the page's own origin.
	_, resp, err := dialSocket(t, p.base, http.Header{"X-Test-Anonymous": {"1"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("dial /ws without credentials = %v, %v; want 401", resp, err)
	}
	_, resp, err = dialSocket(t, p.base, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("dial /ws (admin token) from Origin https://evil.example = %v, %v; want 403", resp, err)
	}
	if _, resp, err = dialSocket(t, p.base, http.Header{"Origin": {p.base}}); err != nil {
		t.Errorf("dial /ws from the portal's own origin = %v, %v; want it accepted", resp, err)
	}

	// Security events are for admins.
	viewer := newToken(t, func(k string) string { return map[string]string{"DATABASE_URL": db}[k] }, "ws-viewer", "viewer")
	subscribeAll := func(hdr http.Header) *wsClient {
		conn, resp, err := dialSocket(t, p.base, hdr)
		if err != nil {
			t.Fatalf("dial /ws: %v (%v)", err, resp)
		}
		c := &wsClient{t: t, conn: conn}
		c.send(map[string]any{"type": "subscribe", "topics": []string{"*"}})
		if f := c.next(); f.Type != "subscribed" {
			t.Fatalf("first frame %+v, want subscribed", f)
		}
		return c
	}
	vws := subscribeAll(http.Header{"Authorization": {"Bearer " + viewer}})
	aws := subscribeAll(nil)

	var denied agentResp
	if code := callAs(t, "POST", p.base+"/api/v1/agents", viewer, newAgent("by-viewer"), &denied); code != http.StatusForbidden {
		t.Fatalf("viewer POST /api/v1/agents = HTTP %d %s, want 403", code, denied.Message)
	}
	if code := call(t, "POST", p.base+"/api/v1/tokens", map[string]string{"name": "ws-made", "role": "ROLE_VIEWER"}, nil); code != http.StatusOK {
		t.Fatalf("POST /api/v1/tokens = HTTP %d", code)
	}
	want := map[string]bool{"portal.identity.v1.AccessDenied": false, "portal.identity.v1.TokenCreated": false}
	for deadline := time.Now().Add(10 * time.Second); !want["portal.identity.v1.AccessDenied"] || !want["portal.identity.v1.TokenCreated"]; {
		if time.Now().After(deadline) {
			t.Fatalf("admin's socket: security events seen %v after 10s, want both", want)
		}
		if f := aws.next(); f.Type == "event" {
			if _, ok := want[f.EventType]; ok {
				want[f.EventType] = true
			}
		}
	}
	// Those events are in the stream before this one: the viewer sees it
	// and none of them.
	create(t, p.base, "marker")
	for {
		f := vws.next()
		if f.Type == "event" && strings.HasPrefix(f.EventType, "portal.identity.") {
			t.Errorf("viewer's socket got a security event: %+v", f)
		}
		if f.Type == "event" && f.EventType == "portal.agents.v1.AgentCreated" && f.Data.Agent.Name == "marker" {
			break
		}
	}

	// The same rule for the recent events a page reads before following.
	type recentJSON struct {
		Events []struct {
			EventType string `json:"eventType"`
			Data      struct {
				Agent struct {
					Name string `json:"name"`
				} `json:"agent"`
			} `json:"data"`
		} `json:"events"`
		Seq     uint64 `json:"seq"`
		Message string `json:"message"`
	}
	recentTypes := func(token string) map[string]bool {
		t.Helper()
		var r recentJSON
		code := callAs(t, "GET", p.base+"/api/v1/events:recent?limit=1000", token, nil, &r)
		if code != http.StatusOK || r.Seq == 0 {
			t.Fatalf("GET /api/v1/events:recent = HTTP %d, seq %d: %s", code, r.Seq, r.Message)
		}
		seen := map[string]bool{}
		for _, e := range r.Events {
			seen[e.EventType] = true
			if e.EventType == "portal.agents.v1.AgentCreated" && e.Data.Agent.Name == "marker" {
				seen["marker"] = true
			}
		}
		return seen
	}
	if seen := recentTypes(viewer); !seen["marker"] || seen["portal.identity.v1.AccessDenied"] || seen["portal.identity.v1.TokenCreated"] {
		t.Errorf("viewer's recent events: %v; want the marker's creation and no security event", seen)
	}
	if seen := recentTypes(p.admin); !seen["marker"] || !seen["portal.identity.v1.AccessDenied"] || !seen["portal.identity.v1.TokenCreated"] {
		t.Errorf("admin's recent events: %v; want the marker's creation and the security events", seen)
	}
	for _, tc := range []struct {
		query string
		code  int
		msg   string
	}{
		{"limit=0", http.StatusBadRequest, "limit: 0 is not between 1 and 1000"},
		{"limit=ten", http.StatusBadRequest, `limit: "ten" is not a number`},
		{"topic=no%20such", http.StatusBadRequest, "is not a topic"},
	} {
		var r recentJSON
		if code := callAs(t, "GET", p.base+"/api/v1/events:recent?"+tc.query, viewer, nil, &r); code != tc.code || !strings.Contains(r.Message, tc.msg) {
			t.Errorf("GET /api/v1/events:recent?%s = HTTP %d %q; want %d naming %q", tc.query, code, r.Message, tc.code, tc.msg)
		}
	}
	if r := newBrowser(t).do("GET", p.base+"/api/v1/events:recent", nil, map[string]string{"X-Test-Anonymous": "1"}); r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/events:recent without credentials = HTTP %d; want 401", r.status)
	}

	// A session's socket closes soon after its logout.
	sb := newBrowser(t)
	csrf := sb.devLogin(p, "sam@example.com", "viewer")
	conn, resp, err := dialSocket(t, p.base, http.Header{"Cookie": {"portal_session=" + sb.jarCookie(p.base, "portal_session")}})
	if err != nil {
		t.Fatalf("dial /ws with a session: %v (%v)", err, resp)
	}
	closed := socketClosed(conn, 20*time.Second)
	if r := sb.do("POST", p.base+"/auth/logout", nil, map[string]string{"X-CSRF-Token": csrf}); r.status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	if took := accessEnded(t, closed, "logout", time.Now()); took > 7*time.Second {
		t.Errorf("session socket closed %s after logout, want within ~6s", took)
	}
}

// callAs is call with an API token of the caller's choosing.
func callAs(t testing.TB, method, u, token string, body, out any) int {
	t.Helper()
	b := newBrowser(t)
	r := b.do(method, u, body, map[string]string{"Authorization": "Bearer " + token})
	if out != nil {
		r.decode(t, out)
	}
	return r.status
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	p := startPortal(t, db, t.TempDir(), map[string]string{"GATEWAY_RATE_LIMIT": "5", "GATEWAY_RATE_BURST": "5"})
	other := newToken(t, func(k string) string { return map[string]string{"DATABASE_URL": db}[k] }, "other", "viewer")
	client := newBrowser(t)
	admin := map[string]string{"Authorization": "Bearer " + p.admin}

	// burst sends n requests with hdr and returns how many got okStatus, the
	// first 429, and how many the bucket could have refilled meanwhile.
	burst := func(n int, hdr map[string]string, okStatus int) (int, *reply, int) {
		ok := 0
		var limited *reply
		start := time.Now()
		for range n {
			r := client.do("GET", p.base+"/api/v1/agents", nil, hdr)
			switch {
			case r.status == okStatus:
				ok++
			case r.status == http.StatusTooManyRequests:
				if limited == nil {
					limited = &r
				}
			default:
				t.Fatalf("GET /api/v1/agents = %d %s, want %d or 429", r.status, r.body, okStatus)
			}
		}
		return ok, limited, int(time.Since(start).Seconds()*5) + 1
	}
	checkLimited := func(who string, limited *reply) int {
		t.Helper()
		if limited == nil {
			t.Fatalf("%s: no 429 in a burst of 20 at 5/s, burst 5", who)
		}
		secs, err := strconv.Atoi(limited.header.Get("Retry-After"))
		if err != nil || secs < 1 {
			t.Errorf("%s: 429 Retry-After = %q, want whole seconds >= 1", who, limited.header.Get("Retry-After"))
		}
		if e := limited.err(); e.Code != 8 || !strings.Contains(e.Message, "rate limit") || limited.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: 429 body = %s (%s), want JSON with code 8 and a message about the rate limit", who, limited.body, limited.header.Get("Content-Type"))
		}
		return secs
	}

	ok, limited, refill := burst(20, admin, http.StatusOK)
	if ok < 5 || ok > 5+refill {
		t.Errorf("admin token: %d of 20 quick requests served, want the burst of 5 and at most %d refilled", ok, refill)
	}
	wait := checkLimited("admin token", limited)

	// Another token has its own bucket.
	if r := client.do("GET", p.base+"/api/v1/agents", nil, map[string]string{"Authorization": "Bearer " + other}); r.status != http.StatusOK {
		t.Errorf("another token while the admin's is limited = %d %s, want 200", r.status, r.body)
	}
	time.Sleep(time.Duration(wait) * time.Second)
	if r := client.do("GET", p.base+"/api/v1/agents", nil, admin); r.status != http.StatusOK {
		t.Errorf("admin token after waiting Retry-After (%ds) = %d %s, want 200", wait, r.status, r.body)
	}

	// Requests without credentials share their address's bucket.
	refused, limited, refill := burst(20, map[string]string{"X-Test-Anonymous": "1"}, http.StatusUnauthorized)
	if refused < 5 || refused > 5+refill {
		t.Errorf("anonymous: %d of 20 quick requests answered 401, want the burst of 5 and at most %d refilled", refused, refill)
	}
	checkLimited("anonymous", limited)
	if r := client.do("GET", p.base+"/api/v1/agents", nil, map[string]string{"Authorization": "Bearer " + other}); r.status != http.StatusOK {
		t.Errorf("a token while anonymous requests are limited = %d %s, want 200", r.status, r.body)
	}
	// The login routes, open to anyone, share the address's bucket too.
	if r := client.do("GET", p.base+"/auth/config", nil, map[string]string{"X-Test-Anonymous": "1"}); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("GET /auth/config from a limited address = %d %s, want 429 with Retry-After", r.status, r.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), nil)
	anon := map[string]string{"X-Test-Anonymous": "1"}
	admin := map[string]string{"Authorization": "Bearer " + p.admin}
	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		want   int
	}{
		{"index", "GET", "/", anon, 200},
		{"healthz", "GET", "/healthz", anon, 200},
		{"readyz", "GET", "/readyz", anon, 200},
		{"API 200", "GET", "/api/v1/agents", admin, 200},
		{"API 401", "GET", "/api/v1/agents", anon, 401},
		{"API 404", "GET", "/api/v1/agents/0196f7a0-0000-7000-8000-000000000000", admin, 404},
		{"API 400", "POST", "/api/v1/agents", admin, 400},
		{"openapi", "GET", "/api/v1/openapi.json", anon, 200},
		{"auth config", "GET", "/auth/config", anon, 200},
		{"auth 404 (OIDC off)", "GET", "/auth/login", anon, 404},
		{"WebSocket 401", "GET", "/ws", anon, 401},
		{"no route", "POST", "/no/such/page", anon, 404}, // a GET would be the web UI's, once built
		{"metrics", "GET", "/metrics", anon, 200},
	}
	b := newBrowser(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "POST" {
				body = "{}"
			}
			r := b.do(tt.method, p.base+tt.path, body, tt.hdr)
			if r.status != tt.want {
				t.Errorf("%s %s = %d %.200s, want %d", tt.method, tt.path, r.status, r.body, tt.want)
			}
			h := r.header
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src") {
				t.Errorf("%s %s: Content-Security-Policy = %q, want a policy with frame-ancestors 'none'", tt.method, tt.path, csp)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s %s: X-Content-Type-Options = %q, want nosniff", tt.method, tt.path, got)
			}
			switch got := h.Get("Referrer-Policy"); got {
			case "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin":
			default:
				t.Errorf("%s %s: Referrer-Policy = %q, want a policy that keeps URLs in", tt.method, tt.path, got)
			}
			if got := h.Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("%s %s: X-Frame-Options = %q, want DENY", tt.method, tt.path, got)
			}
		})
	}
}

// startPortalLogged is startPortal keeping every line the portal logs (at
// debug level) in the returned buffer. Its stop function stops the portal,
// so that shutdown's lines are in the buffer too.
func startPortalLogged(t *testing.T, env map[string]string) (*portal, *logBuffer) {
	t.Helper()
	vars := map[string]string{"LOG_LEVEL": "debug"}
	maps.Copy(vars, env)
	db := vars["DATABASE_URL"]
	if db == "" {
		db = pgtest.NewDatabase(t)
	}
	p := startPortal(t, db, t.TempDir(), vars)
	return p, p.logs
}

// flip changes the first character of s: a tampered copy whose other
// characters are the secret's.
func flip(s string) string {
	if s == "" {
		return s
	}
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	t.Parallel()
	is := startIssuer(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	internalKey := base64.StdEncoding.EncodeToString(key)
	addr := freeAddr(t)
	env := oidcEnv(is, addr)
	env["PORTAL_INTERNAL_KEY"] = internalKey
	p, logs := startPortalLogged(t, env)

	errs := &bodyLog{}
	browse := func() *browser { b := newBrowser(t); b.errors = errs; return b }
	secrets := []secret{
		{"OIDC client secret", is.ClientSecret},
		{"OIDC client credentials (Basic)", base64.StdEncoding.EncodeToString([]byte(is.ClientID + ":" + is.ClientSecret))},
		{"PORTAL_INTERNAL_KEY", internalKey},
		{"PORTAL_INTERNAL_KEY (URL base64)", base64.RawURLEncoding.EncodeToString(key)},
		{"admin API token (portal token create)", p.admin},
	}

	// An OIDC login, and the session at work.
	b := browse()
	r, cb := b.login(p, is, "alice@example.com")
	cbURL, _ := url.Parse(cb)
	session := r.cookie("portal_session").Value
	csrf := r.cookie("portal_csrf").Value
	secrets = append(secrets, secret{"session cookie", session}, secret{"CSRF token", csrf},
		secret{"authorization code (callback)", cbURL.Query().Get("code")})
	if me, w := b.me(p); w.status != http.StatusOK || me.Principal.Role != "ROLE_ADMIN" {
		t.Fatalf("GET /api/v1/me = %d %s, want alice as admin", w.status, w.body)
	}
	withCSRF := map[string]string{"X-CSRF-Token": csrf}
	if r := b.do("POST", p.base+"/api/v1/agents", newAgent("by-alice"), withCSRF); r.status != http.StatusOK {
		t.Fatalf("POST /api/v1/agents = %d %s", r.status, r.body)
	}

	// An API token made over REST, and used.
	r = b.do("POST", p.base+"/api/v1/tokens", map[string]string{"name": "deploy-bot", "role": "ROLE_OPERATOR"}, withCSRF)
	var made struct {
		Secret string `json:"secret"`
	}
	r.decode(t, &made)
	if r.status != http.StatusOK || !strings.HasPrefix(made.Secret, "ppt_") {
		t.Fatalf("POST /api/v1/tokens = %d %s, want a secret", r.status, r.body)
	}
	secrets = append(secrets, secret{"API token (REST)", made.Secret})
	bot := map[string]string{"Authorization": "Bearer " + made.Secret}
	api := browse()
	if r := api.do("POST", p.base+"/api/v1/agents", newAgent("by-bot"), bot); r.status != http.StatusOK {
		t.Fatalf("POST /api/v1/agents with the new token = %d %s", r.status, r.body)
	}
	if r := api.do("GET", p.base+"/api/v1/tokens", nil, map[string]string{"Authorization": "Bearer " + p.admin}); r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/tokens as admin = %d %s", r.status, r.body)
	}

	// Wrong and tampered credentials, and other refusals and errors.
	for _, tc := range []struct {
		name   string
		b      *browser
		method string
		path   string
		body   any
		hdr    map[string]string
		want   int
	}{
		{"unknown token", api, "GET", "/api/v1/agents", nil, map[string]string{"Authorization": "Bearer ppt_" + randomText(t)}, 401},
		{"tampered token", api, "GET", "/api/v1/agents", nil, map[string]string{"Authorization": "Bearer ppt_" + flip(strings.TrimPrefix(made.Secret, "ppt_"))}, 401},
		{"token without Bearer", api, "GET", "/api/v1/agents", nil, map[string]string{"Authorization": made.Secret}, 401},
		{"tampered cookie", browse(), "GET", "/api/v1/me", nil, map[string]string{"Cookie": "portal_session=" + flip(session)}, 401},
		{"wrong CSRF token", b, "POST", "/api/v1/agents", newAgent("csrf"), map[string]string{"X-CSRF-Token": flip(csrf)}, 403},
		{"CSRF token of the cookie as a bearer token", api, "GET", "/api/v1/agents", nil, map[string]string{"Authorization": "Bearer " + csrf}, 401},
		{"operator token asks for admin", api, "GET", "/api/v1/tokens", nil, bot, 403},
		{"duplicate token name", b, "POST", "/api/v1/tokens", map[string]string{"name": "deploy-bot", "role": "ROLE_VIEWER"}, withCSRF, 409},
		{"bad agent name", api, "POST", "/api/v1/agents", map[string]string{"name": "Not A Name", "kind": "AGENT_KIND_MEMORY"}, bot, 400},
		{"unknown agent", api, "GET", "/api/v1/agents/0196f7a0-0000-7000-8000-000000000000", nil, bot, 404},
		{"WebSocket with a tampered token", api, "GET", "/ws", nil, map[string]string{"Authorization": "Bearer " + flip(made.Secret)}, 401},
		{"logout with a wrong CSRF token", b, "POST", "/auth/logout", nil, map[string]string{"X-CSRF-Token": flip(csrf)}, 403},
	} {
		if r := tc.b.do(tc.method, p.base+tc.path, tc.body, tc.hdr); r.status != tc.want {
			t.Errorf("%s: %s %s = %d %s, want %d", tc.name, tc.method, tc.path, r.status, r.body, tc.want)
		}
	}

	// Failed logins: a replayed code (the issuer's error body echoes it) and
	// a forged state.
	victim := browse()
	is.QueueUser(oidcUser("alice@example.com"))
	u, _ := url.Parse(victim.authorize(p, victim.startLogin(p, is)))
	q := u.Query()
	secrets = append(secrets, secret{"authorization code (unused)", q.Get("code")})
	q.Set("code", cbURL.Query().Get("code"))
	u.RawQuery = q.Encode()
	if r := victim.get(u.String()); r.status != http.StatusUnauthorized || r.err().Reason != "CODE_EXCHANGE_FAILED" {
		t.Errorf("login with a used code = %d %s, want 401 CODE_EXCHANGE_FAILED", r.status, r.body)
	}
	if r := victim.get(p.base + "/auth/callback?code=" + url.QueryEscape(cbURL.Query().Get("code")) + "&state=forged"); r.status != http.StatusBadRequest {
		t.Errorf("callback with a forged state = %d %s, want 400", r.status, r.body)
	}

	if r := b.do("POST", p.base+"/auth/logout", nil, withCSRF); r.status != http.StatusOK {
		t.Errorf("logout = %d %s", r.status, r.body)
	}
	if r := browse().do("GET", p.base+"/api/v1/me", nil, map[string]string{"Cookie": "portal_session=" + session}); r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/me with the logged-out cookie = %d %s, want 401", r.status, r.body)
	}
	p.stop()

	secrets = append(secrets, is.secrets()...)
	for _, want := range []string{"OIDC access token", "OIDC ID token", "PKCE code verifier"} {
		if !hasSecret(secrets, want) {
			t.Errorf("the issuer did not see the %s; the login did not go as expected", want)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "portal stopped") || !strings.Contains(out, "login failed") {
		t.Fatalf("the captured log lacks the shutdown or the failed logins; was it all captured?\n%.3000s", out)
	}
	var lines []secret
	for i, l := range strings.Split(out, "\n") {
		lines = append(lines, secret{fmt.Sprintf("log line %d", i+1), l})
	}
	bodies := errs.all()
	if len(bodies) < 12 {
		t.Fatalf("%d error responses recorded, want the test's refusals", len(bodies))
	}
	for _, s := range secrets {
		for _, needle := range needles(s.value) {
			for _, where := range [][]secret{lines, bodies} {
				for _, w := range where {
					if strings.Contains(w.value, needle) {
						t.Errorf("the %s appears in %s: %.600s", s.what, w.what, w.value)
					}
				}
			}
		}
	}
	t.Logf("checked %d log lines and %d error bodies for %d secrets", len(lines), len(bodies), len(secrets))
}

// needles are what would betray s: all of it, or (for a long one) its second
// half, which a log of a tampered copy or of a secret without its public
// prefix would show.
func needles(s string) []string {
	if len(s) < 24 {
		return []string{s}
	}
	return []string{s, s[len(s)/2:]}
}

func hasSecret(list []secret, what string) bool {
	for _, s := range list {
		if s.what == what {
			return true
		}
	}
	return false
}

// TestRevokedGrantClosesSocket: a socket opened under a grant that an admin
// revokes early is closed within a session check, so it stops receiving
// what only the granted role may read.
func TestRevokedGrantClosesSocket(t *testing.T) {
	t.Parallel()
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"AUTH_DEV_LOGIN": "true", "AUTH_COOKIE_SECURE": "false"})
	b := newBrowser(t)
	csrf := b.devLogin(p, "rita@example.com", "viewer")
	hdr := map[string]string{"X-CSRF-Token": csrf}
	r := b.do("POST", p.base+"/api/v1/grants", map[string]string{"role": "ROLE_ADMIN", "reason": "audit the tokens", "duration": "3600s"}, hdr)
	var req struct{ Grant grantJSON }
	r.decode(t, &req)
	if code := call(t, "POST", p.base+"/api/v1/grants/"+req.Grant.ID+":approve", map[string]string{}, nil); code != http.StatusOK {
		t.Fatalf("approve: HTTP %d", code)
	}
	conn, resp, err := dialSocket(t, p.base, http.Header{"Cookie": {"portal_session=" + b.jarCookie(p.base, "portal_session")}})
	if err != nil {
		t.Fatalf("dial /ws with the session: %v (%v)", err, resp)
	}
	closed := socketClosed(conn, 15*time.Second)
	revoked := time.Now()
	if code := call(t, "POST", p.base+"/api/v1/grants/"+req.Grant.ID+":revoke", map[string]string{"reason": "done early"}, nil); code != http.StatusOK {
		t.Fatalf("revoke: HTTP %d", code)
	}
	if late := accessEnded(t, closed, "the revocation", revoked); late > 8*time.Second {
		t.Errorf("socket closed %s after the revocation", late)
	}
}

// TestIdentityStoreDown: when credentials cannot be checked (the database
// lost the sessions and tokens tables), requests get 503 with an error id
// that the log has with the cause, not a misleading 401.
func TestIdentityStoreDown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	p, logs := startPortalLogged(t, map[string]string{"DATABASE_URL": db})
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `ALTER TABLE identity.api_tokens RENAME TO api_tokens_gone`); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Message string `json:"message"`
	}
	for _, u := range []string{"/api/v1/agents", "/ws"} {
		req, _ := http.NewRequest("GET", p.base+u, nil)
		req.Header.Set("Authorization", "Bearer "+p.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(body, &out)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(out.Message, "error id ") {
			t.Fatalf("GET %s with the token table gone: HTTP %d %s; want 503 with an error id", u, resp.StatusCode, body)
		}
		id := out.Message[strings.Index(out.Message, "error id ")+len("error id ") : len(out.Message)-1]
		if !strings.Contains(logs.String(), id) {
			t.Errorf("error id %s of GET %s is not in the log", id, u)
		}
	}
}
