package identity

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oauth2-proxy/mockoidc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/errs"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/pgtest"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

// clock is a test clock the service reads; it starts at the real time, so
// the issuer's tokens (stamped with the real time) verify.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	svc   *Service
	pool  *pgxpool.Pool
	oidc  *mockoidc.MockOIDC
	srv   *httptest.Server
	clock *clock // nil with the real clock
	key   auth.Key
	grpc  string // the gRPC server's address
}

type envOptions struct {
	vars      map[string]string
	realClock bool
	js        jetstream.JetStream
	noOIDC    bool
}

// newEnv runs the service over a fresh database, a mock OIDC issuer, a real
// HTTP server (Routes plus /whoami, which authenticates and, for writes,
// checks CSRF) and a real gRPC server with the platform's guard.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{t: t, key: auth.NewKey()}
	e.pool = pgtest.NewPool(t, pgtest.Migration{Schema: Schema, FS: Migrations()})

	var handler http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)

	vars := map[string]string{
		"AUTH_COOKIE_SECURE": "false",
		"AUTH_ROLE_RULES":    "admin=alice@example.com,operator=@ops.example.com,viewer=group:readers",
		"OIDC_SCOPES":        "openid,email,profile,groups",
	}
	if !o.noOIDC {
		m, err := mockoidc.Run()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Shutdown() }) //nolint:errcheck
		e.oidc = m
		vars["OIDC_ISSUER"] = m.Issuer()
		vars["OIDC_CLIENT_ID"] = m.ClientID
		vars["OIDC_CLIENT_SECRET"] = m.ClientSecret
		vars["OIDC_REDIRECT_URL"] = e.srv.URL + "/auth/callback"
	}
	for k, v := range o.vars {
		vars[k] = v
	}
	var cfg Config
	if err := config.Load(ctx, func(k string) string { return vars[k] }, &cfg); err != nil {
		t.Fatal(err)
	}
	svc, err := New(ctx, cfg, e.pool, o.js, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if !o.realClock {
		e.clock = &clock{t: time.Now()}
		svc.clock = e.clock.Now
	}
	e.svc = svc

	mux := http.NewServeMux()
	mux.Handle("/auth/", svc.Routes())
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		id, err := svc.Authenticate(r)
		if err == nil {
			err = svc.CheckCSRF(r, id)
		}
		if err != nil {
			status := http.StatusInternalServerError
			switch errs.KindOf(err) {
			case errs.Unauthenticated:
				status = http.StatusUnauthorized
			case errs.PermissionDenied:
				status = http.StatusForbidden
			}
			reason := ""
			if ee, ok := errs.As(err); ok {
				reason = ee.Reason
			}
			writeJSON(w, status, map[string]string{"reason": reason, "message": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, id)
	})
	handler = mux

	srv, err := grpcserver.New(logging.Discard(), auth.NewGuard(e.key, svc.Introspector()))
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, lis, time.Second) }() //nolint:errcheck
	t.Cleanup(func() { cancel(); <-done })
	e.grpc = lis.Addr().String()
	return e
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step of a login can be checked.
type browser struct {
	t *testing.T
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	status   int
	location string
	body     string
	cookies  []*http.Cookie
}

// reason is the "reason" of a JSON error body.
func (r response) reason() string {
	var v struct{ Reason string }
	json.Unmarshal([]byte(r.body), &v) //nolint:errcheck
	return v.Reason
}

func (r response) cookie(name string) *http.Cookie {
	for _, c := range r.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) do(method, u string, body io.Reader, hdr map[string]string) response {
	b.t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data), cookies: resp.Cookies()}
}

func (b *browser) get(u string) response { b.t.Helper(); return b.do("GET", u, nil, nil) }

// cookieValue is the value of the jar's cookie for the server.
func (b *browser) cookieValue(e *env, name string) string {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// startLogin follows /auth/login to the issuer's authorize URL.
func (e *env) startLogin(b *browser, redirect string) *url.URL {
	e.t.Helper()
	r := b.get(e.srv.URL + "/auth/login?redirect=" + url.QueryEscape(redirect))
	if r.status != http.StatusFound {
		e.t.Fatalf("GET /auth/login = %d %s, want 302", r.status, r.body)
	}
	u, err := url.Parse(r.location)
	if err != nil || !strings.HasPrefix(r.location, e.oidc.Issuer()) {
		e.t.Fatalf("GET /auth/login redirects to %q, want the issuer %s", r.location, e.oidc.Issuer())
	}
	return u
}

// authorize follows the authorize URL to the callback URL the issuer sends
// the browser to.
func (e *env) authorize(b *browser, u *url.URL) string {
	e.t.Helper()
	r := b.get(u.String())
	if r.status != http.StatusFound || !strings.HasPrefix(r.location, e.srv.URL+"/auth/callback") {
		e.t.Fatalf("authorize = %d %q %s, want 302 to the callback", r.status, r.location, r.body)
	}
	return r.location
}

// login logs in as user through the whole code flow and returns the final
// response of the callback.
func (e *env) login(b *browser, user *mockoidc.MockUser, redirect string) response {
	e.t.Helper()
	e.oidc.QueueUser(user)
	return b.get(e.authorize(b, e.startLogin(b, redirect)))
}

func mockUser(email string, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: true,
		PreferredUsername: strings.Split(email, "@")[0], Groups: groups}
}

// whoami authenticates a request of b at /whoami.
func (e *env) whoami(b *browser, method string, hdr map[string]string) (auth.Identity, response) {
	e.t.Helper()
	r := b.do(method, e.srv.URL+"/whoami", nil, hdr)
	var id auth.Identity
	if r.status == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &id); err != nil {
			e.t.Fatal(err)
		}
	}
	return id, r
}

// devLogin logs in through the development login as email with role.
func (e *env) devLogin(b *browser, email, role string) (auth.Identity, string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "role": role})
	r := b.do("POST", e.srv.URL+"/auth/dev/login", strings.NewReader(string(body)), map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusOK {
		e.t.Fatalf("dev login %s = %d %s", email, r.status, r.body)
	}
	id, w := e.whoami(b, "GET", nil)
	if w.status != http.StatusOK {
		e.t.Fatalf("whoami after dev login = %d %s", w.status, w.body)
	}
	return id, b.cookieValue(e, CSRFCookie)
}

// client calls the IdentityService as id (an internal token, as the gateway
// sends).
func (e *env) client(id auth.Identity) identityv1.IdentityServiceClient {
	return e.clientWith(grpc.WithPerRPCCredentials(auth.IdentityCredentials(e.key, id)))
}

func (e *env) clientWith(opt grpc.DialOption) identityv1.IdentityServiceClient {
	e.t.Helper()
	conn, err := grpc.NewClient(e.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()), opt)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return identityv1.NewIdentityServiceClient(conn)
}

// outboxEvent is a row of identity.outbox, decoded.
type outboxEvent struct {
	subject string
	actor   string
	outcome string
	payload proto.Message
}

var payloadTypes = map[string]func() proto.Message{
	SubjectLoggedIn:        func() proto.Message { return &identityv1.LoggedIn{} },
	SubjectLoginFailed:     func() proto.Message { return &identityv1.LoginFailed{} },
	SubjectLoggedOut:       func() proto.Message { return &identityv1.LoggedOut{} },
	SubjectAccessDenied:    func() proto.Message { return &identityv1.AccessDenied{} },
	SubjectTokenUsed:       func() proto.Message { return &identityv1.TokenUsed{} },
	SubjectTokenCreated:    func() proto.Message { return &identityv1.TokenCreated{} },
	SubjectTokenRevoked:    func() proto.Message { return &identityv1.TokenRevoked{} },
	SubjectUserRoleChanged: func() proto.Message { return &identityv1.UserRoleChanged{} },
	SubjectGrantChanged:    func() proto.Message { return &identityv1.GrantChanged{} },
}

// events returns the outbox's events on subject, oldest first.
func (e *env) events(subject string) []outboxEvent {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT subject, headers, payload FROM identity.outbox WHERE subject = $1 ORDER BY seq`, subject)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var subj string
		var h map[string]string
		var payload []byte
		if err := rows.Scan(&subj, &h, &payload); err != nil {
			e.t.Fatal(err)
		}
		m := payloadTypes[subj]()
		if err := proto.Unmarshal(payload, m); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, outboxEvent{subject: subj, actor: h["portal-actor"], outcome: h["portal-outcome"], payload: m})
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err == nil {
		err = errors.New("timed out")
	}
	t.Fatalf("%s: %v", what, err)
}
