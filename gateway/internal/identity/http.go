package identity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/errs"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

// loginCookie binds a login in progress to the browser that started it, so
// a callback URL planted in another browser (login CSRF) fails.
const loginCookie = "portal_login"

// loginStateTTL is how long a login may take at the issuer.
const loginStateTTL = 10 * time.Minute

// devIssuer is the issuer recorded for users of the development login.
const devIssuer = "dev"

// Routes returns the /auth/ handlers, with their full paths: mount it as
// mux.Handle("/auth/", s.Routes()) without stripping the prefix.
//
//	GET  /auth/login?redirect=/path  start an OIDC login (PKCE, state, nonce)
//	GET  /auth/callback              the issuer's redirect back
//	POST /auth/logout                end the session (needs X-CSRF-Token)
//	GET  /auth/dev                   the development login form (AUTH_DEV_LOGIN)
//	POST /auth/dev/login             development login, form or JSON {email, name, role}
//	GET  /auth/config                what the login page offers
func (s *Service) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/login", s.login)
	mux.HandleFunc("GET /auth/callback", s.callback)
	mux.HandleFunc("POST /auth/logout", s.logout)
	mux.HandleFunc("GET /auth/dev", s.devForm)
	mux.HandleFunc("POST /auth/dev/login", s.devLogin)
	mux.HandleFunc("GET /auth/config", s.config)
	mux.HandleFunc("/auth/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return noStore(mux)
}

// noStore keeps login responses (which set cookies) out of caches.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (s *Service) config(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"oidc_enabled":      s.oidc != nil,
		"oidc_issuer":       s.issuerIfEnabled(),
		"login_url":         "/auth/login",
		"dev_login_enabled": s.cfg.DevLogin,
		"dev_login_url":     "/auth/dev/login",
		"logout_url":        "/auth/logout",
		"csrf_header":       CSRFHeader,
		"csrf_cookie":       CSRFCookie,
	})
}

func (s *Service) issuerIfEnabled() string {
	if s.oidc == nil {
		return ""
	}
	return s.cfg.OIDCIssuer
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.oidc == nil {
		writeError(w, r, http.StatusNotFound, "OIDC_DISABLED",
			"OIDC login is not configured on this portal: set OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URL (or use the development login if it is enabled)")
		return
	}
	redirect, err := safeRedirect(r.URL.Query().Get("redirect"))
	if err != nil {
		s.loginFailed(w, r, http.StatusBadRequest, "BAD_REDIRECT", err.Error(), "")
		return
	}
	oc, _, err := s.oidc.get(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "OIDC issuer unavailable", "issuer", s.cfg.OIDCIssuer, "error", err)
		s.loginFailed(w, r, http.StatusServiceUnavailable, "ISSUER_UNAVAILABLE",
			fmt.Sprintf("the login provider %s cannot be reached just now; try again in a moment", s.cfg.OIDCIssuer), "")
		return
	}
	now := s.now()
	state, nonce, verifier := randomString(32), randomString(32), oauth2.GenerateVerifier()
	var b pgx.Batch
	b.Queue(`INSERT INTO identity.login_states (state, verifier, nonce, redirect_to, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		state, verifier, nonce, redirect, now.Add(loginStateTTL))
	// Housekeeping where it is cheap: abandoned logins, long-dead sessions.
	b.Queue(`DELETE FROM identity.login_states WHERE expires_at < $1`, now)
	b.Queue(`DELETE FROM identity.sessions WHERE absolute_expires_at < $1`, now.Add(-30*24*time.Hour))
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		s.internalError(w, r, "save login state", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: state, Path: "/", MaxAge: int(loginStateTTL.Seconds()),
		HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.oidc == nil {
		writeError(w, r, http.StatusNotFound, "OIDC_DISABLED", "OIDC login is not configured on this portal (OIDC_CLIENT_ID is empty)")
		return
	}
	q := r.URL.Query()
	state, code := q.Get("state"), q.Get("code")
	if e := q.Get("error"); e != "" {
		if state != "" {
			s.consumeState(ctx, state) //nolint:errcheck // the login failed anyway
		}
		msg := "the login provider refused the login: " + e
		if d := q.Get("error_description"); d != "" {
			msg += " (" + d + ")"
		}
		s.loginFailed(w, r, http.StatusUnauthorized, "ISSUER_ERROR", msg, "")
		return
	}
	if state == "" || code == "" {
		s.loginFailed(w, r, http.StatusBadRequest, "MISSING_PARAMETERS", "the callback lacks its state or code parameter: start the login again at /auth/login", "")
		return
	}
	ls, err := s.consumeState(ctx, state)
	if errors.Is(err, pgx.ErrNoRows) {
		s.loginFailed(w, r, http.StatusBadRequest, "STATE_UNKNOWN",
			"the login state is unknown or was already used (each login can complete once): start the login again at /auth/login", "")
		return
	}
	if err != nil {
		s.internalError(w, r, "consume login state", err)
		return
	}
	clearCookie(w, loginCookie, s.cfg.CookieSecure)
	if !s.now().Before(ls.expires) {
		s.loginFailed(w, r, http.StatusBadRequest, "STATE_EXPIRED",
			fmt.Sprintf("the login took longer than %s: start it again at /auth/login", loginStateTTL), "")
		return
	}
	if c, err := r.Cookie(loginCookie); err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		s.loginFailed(w, r, http.StatusBadRequest, "STATE_BROWSER_MISMATCH",
			"this login was not started in this browser (its login cookie is missing or differs): start the login again at /auth/login", "")
		return
	}
	oc, verifier, err := s.oidc.get(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "OIDC issuer unavailable", "issuer", s.cfg.OIDCIssuer, "error", err)
		s.loginFailed(w, r, http.StatusServiceUnavailable, "ISSUER_UNAVAILABLE",
			fmt.Sprintf("the login provider %s cannot be reached just now; try again in a moment", s.cfg.OIDCIssuer), "")
		return
	}
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(ls.verifier))
	if err != nil {
		// The issuer's error body can echo the code: log only its error code.
		var re *oauth2.RetrieveError
		issuerCode := "unreachable"
		if errors.As(err, &re) {
			issuerCode = re.ErrorCode
		}
		s.logger.WarnContext(ctx, "OIDC code exchange failed", "issuer_error", issuerCode)
		s.loginFailed(w, r, http.StatusUnauthorized, "CODE_EXCHANGE_FAILED",
			fmt.Sprintf("the login provider refused the authorization code (%s): it may have been used already or have expired; start the login again", issuerCode), "")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		s.loginFailed(w, r, http.StatusUnauthorized, "ID_TOKEN_MISSING", "the login provider returned no ID token (is the openid scope allowed for this client?)", "")
		return
	}
	idt, err := verifier.Verify(ctx, rawID)
	if err != nil {
		s.logger.WarnContext(ctx, "ID token refused", "error", err)
		s.loginFailed(w, r, http.StatusUnauthorized, "ID_TOKEN_INVALID", "the ID token from the login provider is not valid: "+err.Error(), "")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.nonce)) != 1 {
		s.loginFailed(w, r, http.StatusUnauthorized, "NONCE_MISMATCH",
			"the ID token's nonce does not match this login (a replayed or substituted token): start the login again", "")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.loginFailed(w, r, http.StatusUnauthorized, "ID_TOKEN_INVALID", "the ID token's claims cannot be read", "")
		return
	}
	email, _ := claims["email"].(string)
	if v, ok := claims["email_verified"]; ok && !truthy(v) {
		s.loginFailed(w, r, http.StatusForbidden, "EMAIL_UNVERIFIED",
			fmt.Sprintf("the login provider says the email %s is not verified; verify it there and log in again", email), email)
		return
	}
	name := firstString(claims, "name", "preferred_username")
	if name == "" {
		name = email
	}
	res, err := s.startSession(ctx, r, loginRequest{issuer: idt.Issuer, subject: idt.Subject, email: email, name: name,
		groups: stringList(claims[s.cfg.OIDCGroupsClaim]), kind: "user"})
	if err != nil {
		s.sessionFailed(w, r, email, err)
		return
	}
	s.setSessionCookies(w, res)
	http.Redirect(w, r, ls.redirect, http.StatusSeeOther)
}

type loginState struct {
	verifier, nonce, redirect string
	expires                   time.Time
}

// consumeState takes a login state, once: DELETE ... RETURNING lets one
// callback have it, and no later one.
func (s *Service) consumeState(ctx context.Context, state string) (loginState, error) {
	var ls loginState
	err := s.pool.QueryRow(ctx, `DELETE FROM identity.login_states WHERE state = $1
		RETURNING verifier, nonce, redirect_to, expires_at`, state).Scan(&ls.verifier, &ls.nonce, &ls.redirect, &ls.expires)
	return ls, err
}

type loginRequest struct {
	issuer, subject, email, name string
	groups                       []string
	kind                         string      // "user" or "dev"
	devRole                      authv1.Role // a dev login's chosen role, if any
}

type sessionResult struct {
	id      auth.Identity
	secret  string
	csrf    string
	expires time.Time
	max     time.Time
}

var errNoRole = errors.New("no role")

// startSession records the user and opens a session, with LoggedIn, in one
// transaction; a user with no role is recorded (so an admin can assign one)
// and refused, with LoginFailed.
func (s *Service) startSession(ctx context.Context, r *http.Request, in loginRequest) (*sessionResult, error) {
	now := s.now()
	res := &sessionResult{secret: randomString(32), csrf: randomString(32),
		expires: now.Add(s.cfg.SessionIdle), max: now.Add(s.cfg.SessionMax)}
	hash := hashOf(res.secret)
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		u, err := upsertUser(ctx, tx, in.issuer, in.subject, in.email, in.name, in.groups, now)
		if err != nil {
			return err
		}
		kind := auth.KindUser
		if in.kind == "dev" {
			kind = auth.KindDev
		}
		base := s.baseRole(u.Email, u.Groups, roleArg(u.Assigned))
		if in.devRole != authv1.Role_ROLE_UNSPECIFIED {
			base = in.devRole
		}
		id := auth.Identity{Subject: u.ID.String(), Email: u.Email, Name: u.Name, Kind: kind, Role: base, BaseRole: base,
			SessionID: sessionID(hash), Until: res.expires}
		if base == authv1.Role_ROLE_UNSPECIFIED {
			return errNoRole
		}
		res.id = id
		if _, err := tx.Exec(ctx, `INSERT INTO identity.sessions (id, user_id, kind, dev_role, csrf_token, created_at, last_seen_at,
			expires_at, absolute_expires_at, remote_addr, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)`,
			hash, u.ID, in.kind, roleArg(in.devRole), res.csrf, now, res.expires, res.max, r.RemoteAddr, ua); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return s.enqueue(actor.With(ctx, id.Actor()), tx, loggedIn(&identityv1.LoggedIn{Principal: auth.ToPrincipal(id),
			SessionId: id.SessionID, RemoteAddr: r.RemoteAddr, UserAgent: ua}, now))
	})
	if errors.Is(err, errNoRole) {
		// The user row is worth keeping (an admin may assign a role), so
		// record it with the refusal rather than roll both back.
		if _, uerr := s.recordRefusedUser(ctx, in, now); uerr != nil {
			return nil, uerr
		}
		return nil, errNoRole
	}
	if err != nil {
		return nil, err
	}
	// The identity with any active grant, as requests will see it.
	if id, aerr := s.authenticateSession(ctx, res.secret); aerr == nil {
		res.id = id
	}
	return res, nil
}

func (s *Service) recordRefusedUser(ctx context.Context, in loginRequest, now time.Time) (*user, error) {
	var u *user
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = upsertUser(ctx, tx, in.issuer, in.subject, in.email, in.name, in.groups, now)
		return err
	})
	return u, err
}

// sessionFailed answers a login that could not open a session.
func (s *Service) sessionFailed(w http.ResponseWriter, r *http.Request, email string, err error) {
	if errors.Is(err, errNoRole) {
		s.loginFailed(w, r, http.StatusForbidden, ReasonNoRole,
			fmt.Sprintf("%s has no portal role: no AUTH_ROLE_RULES rule matches and no role is assigned, and AUTH_DEFAULT_ROLE is empty; ask an admin to assign one", email), email)
		return
	}
	s.internalError(w, r, "start session", err)
}

func (s *Service) setSessionCookies(w http.ResponseWriter, res *sessionResult) {
	maxAge := int(time.Until(res.max).Seconds())
	if maxAge <= 0 {
		maxAge = int(s.cfg.SessionMax.Seconds())
	}
	http.SetCookie(w, &http.Cookie{Name: s.cfg.sessionCookie(), Value: res.secret, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode})
	// Readable by the page's script, which echoes it in X-CSRF-Token.
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: res.csrf, Path: "/", MaxAge: maxAge,
		Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode})
}

func clearCookie(w http.ResponseWriter, name string, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name != CSRFCookie,
		Secure: secure, SameSite: http.SameSiteLaxMode})
}

// loginFailed records a failed login (LoginFailed, with outcome "denied" for
// a refusal and "failure" otherwise), logs it without any secret, and
// answers with what was wrong.
func (s *Service) loginFailed(w http.ResponseWriter, r *http.Request, status int, reason, msg, email string) {
	ctx := r.Context()
	s.logger.InfoContext(ctx, "login failed", "reason", reason, "email", email, "remote_addr", r.RemoteAddr)
	outcome := outcomeFailure
	if status == http.StatusForbidden {
		outcome = outcomeDenied
	}
	actx := ctx
	if email != "" {
		actx = actor.With(ctx, email)
	}
	now := s.now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return s.enqueue(actx, tx, loginFailed(&identityv1.LoginFailed{Reason: reason + ": " + msg, Email: email, RemoteAddr: r.RemoteAddr}, outcome, now))
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "record failed login", "error", err)
	}
	writeError(w, r, status, reason, msg)
}

func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	clear := func() {
		clearCookie(w, s.cfg.sessionCookie(), s.cfg.CookieSecure)
		clearCookie(w, CSRFCookie, s.cfg.CookieSecure)
	}
	c, err := r.Cookie(s.cfg.sessionCookie())
	if err != nil || c.Value == "" {
		clear()
		writeJSON(w, http.StatusOK, map[string]any{"logged_out": false, "message": "there was no session to end"})
		return
	}
	hash := hashOf(c.Value)
	var ended bool
	err = s.pool.QueryRow(ctx, `SELECT ended_at IS NOT NULL FROM identity.sessions WHERE id = $1`, hash).Scan(&ended)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && ended) {
		clear()
		writeJSON(w, http.StatusOK, map[string]any{"logged_out": false, "message": "the session had already ended"})
		return
	}
	if err != nil {
		s.internalError(w, r, "look up session", err)
		return
	}
	tok := r.Header.Get(CSRFHeader)
	form := isForm(r)
	if tok == "" && form {
		tok = r.PostFormValue("csrf_token")
	}
	if err := s.checkCSRFToken(ctx, sessionID(hash), tok); err != nil {
		e, _ := errs.As(err)
		if e == nil {
			s.internalError(w, r, "check CSRF token", err)
			return
		}
		writeError(w, r, http.StatusForbidden, e.Reason, "logout: "+e.Message)
		return
	}
	if err := s.endSession(ctx, hash, "logout", s.now()); err != nil {
		s.internalError(w, r, "end session", err)
		return
	}
	clear()
	if form {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"logged_out": true})
}

func (s *Service) devDisabled(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, "DEV_LOGIN_DISABLED",
		"the development login is disabled; it is for laptops and tests only, and is enabled by setting AUTH_DEV_LOGIN=true (plus AUTH_COOKIE_SECURE=false over plain http)")
}

// pageStyle is the one stylesheet of the login pages, allowed by its hash in
// their Content-Security-Policy (pageCSP): nothing else may style or script
// them.
const pageStyle = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto}` +
	`.banner{background:#b00020;color:#fff;padding:1rem;font-weight:bold}label{display:block;margin:.8rem 0}`

var pageCSP = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// writePage renders one of the login pages under their own, stricter policy.
func writePage(w http.ResponseWriter, status int, page *template.Template, data any) {
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	page.Execute(w, data) //nolint:errcheck
}

var devPage = template.Must(template.New("dev").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>DEVELOPMENT LOGIN — Platform Portal</title>
<style>` + pageStyle + `</style></head>
<body><div class="banner">DEVELOPMENT LOGIN — no password, any role. Never enable AUTH_DEV_LOGIN in production.</div>
<form method="post" action="/auth/dev/login">
<label>Email <input name="email" type="email" required></label>
<label>Name <input name="name"></label>
<label>Role <select name="role"><option>viewer</option><option>operator</option><option>admin</option></select></label>
<input type="hidden" name="redirect" value="{{.}}">
<button type="submit">Log in (dev)</button></form></body></html>`))

func (s *Service) devForm(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.DevLogin {
		s.devDisabled(w, r)
		return
	}
	redirect, err := safeRedirect(r.URL.Query().Get("redirect"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BAD_REDIRECT", err.Error())
		return
	}
	writePage(w, http.StatusOK, devPage, redirect)
}

type devLoginRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Redirect string `json:"redirect"`
}

func (s *Service) devLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.cfg.DevLogin {
		s.devDisabled(w, r)
		return
	}
	// A cross-site page must not log a visitor in as someone else.
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			writeError(w, r, http.StatusForbidden, "CROSS_ORIGIN", "the development login accepts requests from this site only")
			return
		}
	}
	var in devLoginRequest
	form := isForm(r)
	if form {
		in = devLoginRequest{Email: r.PostFormValue("email"), Name: r.PostFormValue("name"),
			Role: r.PostFormValue("role"), Redirect: r.PostFormValue("redirect")}
	} else if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		writeError(w, r, http.StatusBadRequest, "INVALID_ARGUMENT", "the body must be a form or JSON {\"email\", \"name\", \"role\"}: "+err.Error())
		return
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if at := strings.IndexByte(email, '@'); at <= 0 || at == len(email)-1 || strings.Count(email, "@") != 1 || len(email) > 254 {
		writeError(w, r, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("email: %q is not an email address", in.Email))
		return
	}
	var role authv1.Role
	if strings.TrimSpace(in.Role) != "" {
		var err error
		if role, err = auth.ParseRole(in.Role); err != nil {
			writeError(w, r, http.StatusBadRequest, "INVALID_ARGUMENT", "role: "+err.Error())
			return
		}
	}
	redirect, err := safeRedirect(in.Redirect)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BAD_REDIRECT", err.Error())
		return
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = email[:strings.IndexByte(email, '@')]
	}
	res, err := s.startSession(ctx, r, loginRequest{issuer: devIssuer, subject: email, email: email, name: name,
		kind: "dev", devRole: role})
	if errors.Is(err, errNoRole) {
		s.loginFailed(w, r, http.StatusForbidden, ReasonNoRole,
			fmt.Sprintf("%s has no portal role by AUTH_ROLE_RULES or AUTH_DEFAULT_ROLE: choose a role in the development login", email), email)
		return
	}
	if err != nil {
		s.sessionFailed(w, r, email, err)
		return
	}
	s.logger.WarnContext(ctx, "development login", "email", email, "role", auth.RoleName(res.id.Role))
	s.setSessionCookies(w, res)
	if form {
		http.Redirect(w, r, redirect, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"subject": res.id.Subject, "email": res.id.Email, "name": res.id.Name, "kind": res.id.Kind,
		"role": auth.RoleName(res.id.Role), "actor": res.id.Actor(), "dev_login": true,
		"csrf_token": res.csrf, "session_expire_time": res.expires.UTC().Format(time.RFC3339),
	})
}

// safeRedirect accepts only a path on this site: "/x", never "//host/x",
// "https://host/x" or anything a browser could read as another origin.
func safeRedirect(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	bad := fmt.Errorf("redirect %q refused: it must be a path on this site, such as /agents", p)
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || len(p) > 2048 {
		return "", bad
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "", bad
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", bad
	}
	return p, nil
}

func isForm(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data"
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

func firstString(claims map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := claims[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// stringList reads a groups claim: a list of strings, or one string.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// internalError logs err with an id and answers 500 with the id only.
func (s *Service) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	id := uuid.NewString()
	s.logger.ErrorContext(r.Context(), "identity: "+what, "error_id", id, "error", err)
	writeError(w, r, http.StatusInternalServerError, "INTERNAL", fmt.Sprintf("internal error (error id %s)", id))
}

var statusCodes = map[int]codes.Code{
	http.StatusBadRequest:          codes.InvalidArgument,
	http.StatusUnauthorized:        codes.Unauthenticated,
	http.StatusForbidden:           codes.PermissionDenied,
	http.StatusNotFound:            codes.NotFound,
	http.StatusServiceUnavailable:  codes.Unavailable,
	http.StatusInternalServerError: codes.Internal,
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Login problem — Platform Portal</title>
<style>` + pageStyle + `</style></head><body>
<h1>{{.Title}}</h1><p>{{.Message}}</p><p><small>{{.Reason}}</small></p>
<p><a href="/auth/login">Log in again</a> · <a href="/">Home</a></p></body></html>`))

// writeError answers in JSON ({"code", "message", "reason"}, like the REST
// API's errors) to clients that ask for it, else with a small HTML page, for
// browsers landing here from the login provider.
func writeError(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	if wantsJSON(r) {
		writeJSON(w, status, map[string]any{"code": statusCodes[status], "message": msg, "reason": reason})
		return
	}
	writePage(w, status, errorPage, map[string]string{"Title": http.StatusText(status), "Message": msg, "Reason": reason})
}

func wantsJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.Contains(r.Header.Get("Accept"), "application/json") || ct == "application/json"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}
