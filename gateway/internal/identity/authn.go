package identity

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/errs"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

// Reasons of the errors Authenticate and CheckCSRF return. The errors are
// *errs.Error: Kind Unauthenticated (answer 401: no or bad credentials) or
// PermissionDenied (answer 403: known caller, refused).
const (
	ReasonNoCredentials  = "NO_CREDENTIALS"
	ReasonBadCredentials = "BAD_CREDENTIALS"
	ReasonTokenRevoked   = "TOKEN_REVOKED"
	ReasonTokenExpired   = "TOKEN_EXPIRED"
	ReasonSessionExpired = "SESSION_EXPIRED"
	ReasonSessionEnded   = "SESSION_ENDED"
	ReasonNoRole         = "NO_ROLE"
	ReasonCSRFMissing    = "CSRF_TOKEN_MISSING"
	ReasonCSRFMismatch   = "CSRF_TOKEN_MISMATCH"
)

// CSRFHeader carries the session's CSRF token on cookie-authenticated writes;
// the browser reads it from the CSRFCookie.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFCookie = "portal_csrf"
)

// tokenPrefix starts every API token secret, so scanners and people can
// recognise one.
const tokenPrefix = "ppt_"

// tokenUseEvery is how often a token's use is recorded (last_used_at and a
// TokenUsed event), so a busy script costs one write a minute.
const tokenUseEvery = time.Minute

// Authenticate resolves the caller of r: an API token in
// "Authorization: Bearer <secret>", else the session cookie. The error is an
// *errs.Error whose Kind is Unauthenticated (401) or PermissionDenied (403).
func (s *Service) Authenticate(r *http.Request) (auth.Identity, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		secret = strings.TrimSpace(secret)
		if !strings.EqualFold(scheme, "bearer") || secret == "" {
			return auth.Identity{}, errs.E(errs.Unauthenticated, ReasonBadCredentials,
				`the Authorization header must be "Bearer <API token>"`)
		}
		id, _, err := s.authenticateToken(ctx, secret, r.RemoteAddr)
		return id, err
	}
	c, err := r.Cookie(s.cfg.sessionCookie())
	if err != nil || c.Value == "" {
		return auth.Identity{}, errs.E(errs.Unauthenticated, ReasonNoCredentials,
			"not logged in: log in at /auth/login, or send an API token as \"Authorization: Bearer <token>\"")
	}
	return s.authenticateSession(ctx, c.Value)
}

func (s *Service) authenticateSession(ctx context.Context, secret string) (auth.Identity, error) {
	return s.sessionIdentity(ctx, hashOf(secret), true)
}

// sessionID is the public id of a session: the hex of its hash, never the
// cookie's value.
func sessionID(hash []byte) string { return hex.EncodeToString(hash) }

// renewEvery is how stale last_seen_at may get before a request slides the
// session's idle expiry: at most one write a minute per session.
func (s *Service) renewEvery() time.Duration {
	return min(time.Minute, s.cfg.SessionIdle/2)
}

// sessionIdentity resolves the session stored under hash; renew slides its
// idle expiry (a request does; a check on an open WebSocket does not, so an
// open page alone never keeps a session alive).
func (s *Service) sessionIdentity(ctx context.Context, hash []byte, renew bool) (auth.Identity, error) {
	now := s.now()
	var (
		sess       session
		devRole    *int16
		email      string
		name       string
		groups     []string
		assigned   *int16
		grantRole  *int16
		grantUntil *time.Time
	)
	err := s.pool.QueryRow(ctx, `
		SELECT s.user_id, s.kind, s.dev_role, s.last_seen_at, s.expires_at, s.absolute_expires_at, s.ended_at, s.end_reason,
			u.email, u.name, u.groups, u.assigned_role, g.role, g.expires_at
		FROM identity.sessions s
		JOIN identity.users u ON u.id = s.user_id
		LEFT JOIN LATERAL (
			SELECT role, expires_at FROM identity.grants
			WHERE user_id = s.user_id AND state = 'ACTIVE' AND expires_at > $2
			ORDER BY role DESC, expires_at DESC LIMIT 1
		) g ON true
		WHERE s.id = $1`, hash, now).Scan(&sess.UserID, &sess.Kind, &devRole, &sess.LastSeen, &sess.Expires, &sess.Absolute,
		&sess.EndedAt, &sess.EndReason, &email, &name, &groups, &assigned, &grantRole, &grantUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Identity{}, errs.E(errs.Unauthenticated, ReasonBadCredentials, "the session is not known: log in again")
	}
	if err != nil {
		return auth.Identity{}, fmt.Errorf("look up session: %w", err)
	}
	if sess.EndedAt != nil {
		return auth.Identity{}, errs.E(errs.Unauthenticated, ReasonSessionEnded, "the session ended (%s): log in again", sess.EndReason)
	}
	if !now.Before(sess.Expires) || !now.Before(sess.Absolute) {
		why := fmt.Sprintf("it was unused for %s", s.cfg.SessionIdle)
		if !now.Before(sess.Absolute) {
			why = fmt.Sprintf("it reached its limit of %s after login", s.cfg.SessionMax)
		}
		if err := s.endSession(ctx, hash, "expired", now); err != nil {
			return auth.Identity{}, err
		}
		return auth.Identity{}, errs.E(errs.Unauthenticated, ReasonSessionExpired, "the session expired (%s): log in again", why)
	}
	if renew && now.Sub(sess.LastSeen) > s.renewEvery() {
		exp := now.Add(s.cfg.SessionIdle)
		if exp.After(sess.Absolute) {
			exp = sess.Absolute
		}
		// Guarded by ended_at so a renewal never revives an ended session.
		if _, err := s.pool.Exec(ctx, `UPDATE identity.sessions SET last_seen_at = $2, expires_at = $3
			WHERE id = $1 AND ended_at IS NULL`, hash, now, exp); err != nil {
			return auth.Identity{}, fmt.Errorf("renew session: %w", err)
		}
		sess.Expires = exp
	}

	kind := auth.KindUser
	if sess.Kind == "dev" {
		kind = auth.KindDev
	}
	base := s.baseRole(email, groups, assigned)
	if devRole != nil {
		base = authv1.Role(*devRole)
	}
	id := auth.Identity{Subject: sess.UserID.String(), Email: email, Name: name, Kind: kind,
		Role: base, BaseRole: base, SessionID: sessionID(hash), Until: sess.Expires}
	if grantRole != nil && authv1.Role(*grantRole) > base {
		id.Role = authv1.Role(*grantRole)
		if grantUntil.Before(id.Until) {
			id.Until = *grantUntil
		}
	}
	if id.Role == authv1.Role_ROLE_UNSPECIFIED {
		return auth.Identity{}, errs.E(errs.PermissionDenied, ReasonNoRole,
			"%s has no portal role: no AUTH_ROLE_RULES rule matches, no role is assigned, and AUTH_DEFAULT_ROLE is empty; ask an admin", id.Actor())
	}
	return id, nil
}

// baseRole is the assigned role, else the configured mapping's.
func (s *Service) baseRole(email string, groups []string, assigned *int16) authv1.Role {
	if assigned != nil {
		return authv1.Role(*assigned)
	}
	return s.roles.of(email, groups)
}

// endSession ends a session once, with its LoggedOut event; a session already
// ended is left as it is, with no second event.
func (s *Service) endSession(ctx context.Context, hash []byte, reason string, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var userID uuid.UUID
		var email, kind string
		err := tx.QueryRow(ctx, `UPDATE identity.sessions s SET ended_at = $2, end_reason = $3
			FROM identity.users u
			WHERE s.id = $1 AND s.ended_at IS NULL AND u.id = s.user_id
			RETURNING s.user_id, u.email, s.kind`, hash, now, reason).Scan(&userID, &email, &kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		if reason == "expired" {
			ctx = actor.With(ctx, actor.System)
		} else {
			ctx = actor.With(ctx, (auth.Identity{Subject: userID.String(), Email: email, Kind: auth.Kind(kind)}).Actor())
		}
		return s.enqueue(ctx, tx, loggedOut(&identityv1.LoggedOut{SessionId: sessionID(hash), Subject: userID.String(), Reason: reason}, now))
	})
}

// authenticateToken resolves an API token secret; validUntil is its expiry
// (zero: none).
func (s *Service) authenticateToken(ctx context.Context, secret, remoteAddr string) (auth.Identity, time.Time, error) {
	bad := errs.E(errs.Unauthenticated, ReasonBadCredentials, "the API token is not valid")
	if !strings.HasPrefix(secret, tokenPrefix) {
		return auth.Identity{}, time.Time{}, bad
	}
	now := s.now()
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM identity.api_tokens WHERE hash = $1`, hashOf(secret)))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Identity{}, time.Time{}, bad
	}
	if err != nil {
		return auth.Identity{}, time.Time{}, fmt.Errorf("look up API token: %w", err)
	}
	if t.RevokedAt != nil {
		return auth.Identity{}, time.Time{}, errs.E(errs.Unauthenticated, ReasonTokenRevoked,
			"the API token %q was revoked at %s", t.Name, t.RevokedAt.UTC().Format(time.RFC3339))
	}
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return auth.Identity{}, time.Time{}, errs.E(errs.Unauthenticated, ReasonTokenExpired,
			"the API token %q expired at %s", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	id := auth.Identity{Subject: t.ID.String(), Name: t.Name, Kind: auth.KindToken, Role: t.Role, BaseRole: t.Role}
	var until time.Time
	if t.ExpiresAt != nil {
		until = *t.ExpiresAt
		id.Until = until
	}
	if t.LastUsed == nil || now.Sub(*t.LastUsed) >= tokenUseEvery {
		if err := s.recordTokenUse(actor.With(ctx, id.Actor()), t, remoteAddr, now); err != nil {
			return auth.Identity{}, time.Time{}, err
		}
	}
	return id, until, nil
}

// recordTokenUse updates last_used_at and emits TokenUsed, at most once per
// tokenUseEvery: the condition in the UPDATE lets one of concurrent requests
// win.
func (s *Service) recordTokenUse(ctx context.Context, t *token, remoteAddr string, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		u, err := scanToken(tx.QueryRow(ctx, `UPDATE identity.api_tokens SET last_used_at = $2
			WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)
			RETURNING `+tokenColumns, t.ID, now, now.Add(-tokenUseEvery)))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("record API token use: %w", err)
		}
		p := tokenToProto(u)
		return s.enqueue(ctx, tx, tokenEvent(SubjectTokenUsed, p, &identityv1.TokenUsed{Token: p, RemoteAddr: remoteAddr}, now))
	})
}

// CheckCSRF guards a write made with a session cookie: POST, PUT, PATCH and
// DELETE must carry the session's CSRF token in the X-CSRF-Token header.
// Requests authenticated by an API token need none (a browser never sends
// one by itself). The error is an *errs.Error of Kind PermissionDenied.
func (s *Service) CheckCSRF(r *http.Request, id auth.Identity) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil
	}
	if id.Kind == auth.KindToken || id.Kind == auth.KindService {
		return nil
	}
	return s.checkCSRFToken(r.Context(), id.SessionID, r.Header.Get(CSRFHeader))
}

func (s *Service) checkCSRFToken(ctx context.Context, sid, got string) error {
	if got == "" {
		return errs.E(errs.PermissionDenied, ReasonCSRFMissing,
			"this write needs the %s header, set to the value of the %s cookie", CSRFHeader, CSRFCookie)
	}
	hash, err := hex.DecodeString(sid)
	if err != nil || len(hash) != 32 {
		return errs.E(errs.PermissionDenied, ReasonCSRFMismatch, "the %s header does not match the session", CSRFHeader)
	}
	var want string
	err = s.pool.QueryRow(ctx, `SELECT csrf_token FROM identity.sessions WHERE id = $1`, hash).Scan(&want)
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.E(errs.PermissionDenied, ReasonCSRFMismatch, "the %s header does not match the session", CSRFHeader)
	}
	if err != nil {
		return fmt.Errorf("look up CSRF token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errs.E(errs.PermissionDenied, ReasonCSRFMismatch, "the %s header does not match the session", CSRFHeader)
	}
	return nil
}

// SessionIdentity is the identity of a session (auth.Identity.SessionID) as
// it stands now, with the role in force now, without renewing it; an error
// of kind Unauthenticated when it ended or expired. The WebSocket hub asks it
// now and then, to close the sockets of sessions that ended or whose role
// changed.
func (s *Service) SessionIdentity(ctx context.Context, sessionID string) (auth.Identity, error) {
	hash, err := hex.DecodeString(sessionID)
	if err != nil || len(hash) != sha256.Size {
		return auth.Identity{}, errs.E(errs.Unauthenticated, ReasonBadCredentials, "not a session id")
	}
	return s.sessionIdentity(ctx, hash, false)
}

// introspectCap bounds how long an introspected identity is trusted when the
// token itself does not expire sooner.
const introspectCap = time.Minute

// Introspector resolves API tokens in-process, for the gateway's own gRPC
// guard. Services use auth.NewIdentityClient over a connection to the
// IdentityService for the same.
func (s *Service) Introspector() auth.Introspector { return introspector{s} }

type introspector struct{ s *Service }

func (i introspector) Introspect(ctx context.Context, secret string) (auth.Identity, time.Time, error) {
	id, until, err := i.s.authenticateToken(ctx, secret, "")
	if err != nil {
		return auth.Identity{}, time.Time{}, err
	}
	limit := i.s.now().Add(introspectCap)
	if until.IsZero() || until.After(limit) {
		until = limit
	}
	return id, until, nil
}
