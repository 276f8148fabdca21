package identity

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/errs"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

// server implements IdentityService. The guard has checked each RPC's
// declared role before a handler runs; handlers make the finer checks.
type server struct {
	identityv1.UnimplementedIdentityServiceServer
	s *Service
}

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

func pageSize(n int32) int {
	if n <= 0 {
		return defaultPageSize
	}
	return min(int(n), maxPageSize)
}

// cursor is a keyset position: a sort key and the id breaking ties.
type cursor struct {
	K string    `json:"k"`
	T time.Time `json:"t,omitzero"`
	I uuid.UUID `json:"i"`
}

func (c cursor) token() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(tok string) (*cursor, error) {
	if tok == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return nil, errs.InvalidField("page_token", "not a page token from a previous response")
	}
	return &c, nil
}

func caller(ctx context.Context) (auth.Identity, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Identity{}, errs.E(errs.Unauthenticated, auth.ReasonUnauthenticated, "the caller is not authenticated")
	}
	return id, nil
}

func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, errs.InvalidField(field, "%q is not a UUID", s)
	}
	return id, nil
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func (s *Service) userToProto(u *user) *identityv1.User {
	mapped := s.roles.of(u.Email, u.Groups)
	role := mapped
	if u.Assigned != authv1.Role_ROLE_UNSPECIFIED {
		role = u.Assigned
	}
	return &identityv1.User{Id: u.ID.String(), Email: u.Email, Name: u.Name, Issuer: u.Issuer, OidcSubject: u.Subject,
		Groups: u.Groups, AssignedRole: u.Assigned, MappedRole: mapped, Role: role,
		CreateTime: timestamppb.New(u.CreatedAt), LastLoginTime: timestamppb.New(u.LastLogin), Etag: u.etag()}
}

func tokenToProto(t *token) *identityv1.Token {
	return &identityv1.Token{Id: t.ID.String(), Name: t.Name, Role: t.Role, Prefix: t.Prefix, Creator: t.CreatedBy,
		CreateTime: timestamppb.New(t.CreatedAt), ExpireTime: ts(t.ExpiresAt), RevokeTime: ts(t.RevokedAt), LastUseTime: ts(t.LastUsed)}
}

var grantStates = map[string]identityv1.GrantState{
	statePending: identityv1.GrantState_GRANT_STATE_PENDING,
	stateActive:  identityv1.GrantState_GRANT_STATE_ACTIVE,
	stateDenied:  identityv1.GrantState_GRANT_STATE_DENIED,
	stateExpired: identityv1.GrantState_GRANT_STATE_EXPIRED,
	stateRevoked: identityv1.GrantState_GRANT_STATE_REVOKED,
}

func grantToProto(g *grant, now time.Time) *identityv1.Grant {
	return &identityv1.Grant{Id: g.ID.String(), UserId: g.UserID.String(), UserEmail: g.UserEmail, Role: g.Role,
		Reason: g.Reason, Duration: durationpb.New(g.Duration), State: grantStates[g.state(now)],
		RequestTime: timestamppb.New(g.RequestedAt), DecidedBy: g.DecidedBy, DecideTime: ts(g.DecidedAt),
		DecisionReason: g.DecisionReason, ExpireTime: ts(g.ExpiresAt)}
}

// GetMe returns the caller, their pending and active grants, and for a
// session its expiry and CSRF token.
func (a *server) GetMe(ctx context.Context, _ *identityv1.GetMeRequest) (*identityv1.GetMeResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	resp := &identityv1.GetMeResponse{Principal: auth.ToPrincipal(id)}
	if id.Kind != auth.KindUser && id.Kind != auth.KindDev {
		return resp, nil
	}
	now := a.s.now()
	uid, err := uuid.Parse(id.Subject)
	if err != nil {
		return resp, nil
	}
	rows, err := a.s.pool.Query(ctx, `SELECT `+grantColumns+grantFrom+`
		WHERE g.user_id = $1 AND (g.state = 'PENDING' OR (g.state = 'ACTIVE' AND g.expires_at > $2))
		ORDER BY g.requested_at DESC, g.id DESC LIMIT 100`, uid, now)
	if err != nil {
		return nil, fmt.Errorf("list own grants: %w", err)
	}
	grants, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*grant, error) { return scanGrant(r) })
	if err != nil {
		return nil, fmt.Errorf("list own grants: %w", err)
	}
	for _, g := range grants {
		resp.Grants = append(resp.Grants, grantToProto(g, now))
	}
	if hash, err := hexHash(id.SessionID); err == nil {
		var exp time.Time
		var csrf string
		err := a.s.pool.QueryRow(ctx, `SELECT expires_at, csrf_token FROM identity.sessions WHERE id = $1 AND ended_at IS NULL`, hash).Scan(&exp, &csrf)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("look up session: %w", err)
		}
		if err == nil {
			resp.SessionExpireTime = timestamppb.New(exp)
			resp.CsrfToken = csrf
		}
	}
	return resp, nil
}

// ListUsers pages through users in email order.
func (a *server) ListUsers(ctx context.Context, req *identityv1.ListUsersRequest) (*identityv1.ListUsersResponse, error) {
	after, err := parseCursor(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	limit := pageSize(req.GetPageSize())
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q := strings.TrimSpace(req.GetQuery()); q != "" {
		p := arg("%" + likeEscape(q) + "%")
		where = append(where, "(email ILIKE "+p+" OR name ILIKE "+p+")")
	}
	if after != nil {
		where = append(where, fmt.Sprintf("(email, id) > (%s, %s)", arg(after.K), arg(after.I)))
	}
	sql := `SELECT ` + userColumns + ` FROM identity.users`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY email, id LIMIT " + arg(limit+1)
	rows, err := a.s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*user, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	resp := &identityv1.ListUsersResponse{}
	if len(users) > limit {
		users = users[:limit]
		last := users[limit-1]
		resp.NextPageToken = cursor{K: last.Email, I: last.ID}.token()
	}
	for _, u := range users {
		resp.Users = append(resp.Users, a.s.userToProto(u))
	}
	return resp, nil
}

// SetUserRole assigns (or, with ROLE_UNSPECIFIED, unassigns) a user's role,
// refusing a stale etag.
func (a *server) SetUserRole(ctx context.Context, req *identityv1.SetUserRoleRequest) (*identityv1.SetUserRoleResponse, error) {
	uid, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	now := a.s.now()
	var out *identityv1.User
	err = a.s.inTx(ctx, func(tx pgx.Tx) error {
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM identity.users WHERE id = $1 FOR UPDATE`, uid))
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.E(errs.NotFound, "USER_NOT_FOUND", "user %s not found", uid).With("id", uid.String())
		}
		if err != nil {
			return fmt.Errorf("select user: %w", err)
		}
		if req.GetEtag() != "" && req.GetEtag() != u.etag() {
			return errs.E(errs.Conflict, "ETAG_MISMATCH", "user %s changed since it was read (etag %s, now %s): read it again",
				u.Email, req.GetEtag(), u.etag()).With("etag", u.etag())
		}
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE identity.users SET assigned_role = $2, version = version + 1
			WHERE id = $1 RETURNING `+userColumns, uid, roleArg(req.GetRole())))
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		out = a.s.userToProto(u)
		return a.s.enqueue(ctx, tx, userRoleChanged(out, now))
	})
	if err != nil {
		return nil, err
	}
	return &identityv1.SetUserRoleResponse{User: out}, nil
}

// CreateToken creates an API token; the secret is in the response only.
func (a *server) CreateToken(ctx context.Context, req *identityv1.CreateTokenRequest) (*identityv1.CreateTokenResponse, error) {
	var ttl time.Duration
	if req.GetTtl() != nil {
		ttl = req.GetTtl().AsDuration()
	}
	t, secret, err := a.s.createToken(ctx, req.GetName(), req.GetRole(), ttl, actor.From(ctx))
	if err != nil {
		return nil, err
	}
	return &identityv1.CreateTokenResponse{Token: tokenToProto(t), Secret: secret}, nil
}

// CreateTokenDirect creates an API token without an authenticated caller,
// for "portal token create" to bootstrap the first admin token; the creator
// is recorded as "cli". ttl 0 means until revoked.
func (s *Service) CreateTokenDirect(ctx context.Context, name string, role authv1.Role, ttl time.Duration) (string, error) {
	if name == "" || len(name) > 100 || !tokenName(name) {
		return "", errs.InvalidField("name", "%q: use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	if role < authv1.Role_ROLE_VIEWER || role > authv1.Role_ROLE_ADMIN {
		return "", errs.InvalidField("role", "must be viewer, operator or admin")
	}
	if ttl < 0 {
		return "", errs.InvalidField("ttl", "must not be negative")
	}
	_, secret, err := s.createToken(actor.With(ctx, "cli"), name, role, ttl, "cli")
	return secret, err
}

func tokenName(n string) bool {
	for i, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

func (s *Service) createToken(ctx context.Context, name string, role authv1.Role, ttl time.Duration, creator string) (*token, string, error) {
	now := s.now()
	secret := tokenPrefix + randomString(32)
	var exp *time.Time
	if ttl > 0 {
		e := now.Add(ttl)
		exp = &e
	}
	var t *token
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// An expired token gives its name up: it counts as revoked when it
		// expired.
		if _, err := tx.Exec(ctx, `UPDATE identity.api_tokens SET revoked_at = expires_at
			WHERE name = $1 AND revoked_at IS NULL AND expires_at <= $2`, name, now); err != nil {
			return fmt.Errorf("release expired token name: %w", err)
		}
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `INSERT INTO identity.api_tokens (id, name, role, prefix, hash, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+tokenColumns,
			uuid.New(), name, int16(role), secret[:len(tokenPrefix)+8], hashOf(secret), creator, now, exp))
		if isUniqueViolation(err) {
			return errs.E(errs.AlreadyExists, "TOKEN_NAME_TAKEN", "an active API token named %q exists: revoke it or choose another name", name).With("name", name)
		}
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		p := tokenToProto(t)
		return s.enqueue(ctx, tx, tokenEvent(SubjectTokenCreated, p, &identityv1.TokenCreated{Token: p}, now))
	})
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// ListTokens pages through tokens, newest first.
func (a *server) ListTokens(ctx context.Context, req *identityv1.ListTokensRequest) (*identityv1.ListTokensResponse, error) {
	after, err := parseCursor(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	limit := pageSize(req.GetPageSize())
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if !req.GetShowInactive() {
		where = append(where, "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > "+arg(a.s.now())+")")
	}
	if after != nil {
		where = append(where, fmt.Sprintf("(created_at, id) < (%s, %s)", arg(after.T), arg(after.I)))
	}
	sql := `SELECT ` + tokenColumns + ` FROM identity.api_tokens`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY created_at DESC, id DESC LIMIT " + arg(limit+1)
	rows, err := a.s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	toks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	resp := &identityv1.ListTokensResponse{}
	if len(toks) > limit {
		toks = toks[:limit]
		last := toks[limit-1]
		resp.NextPageToken = cursor{T: last.CreatedAt, I: last.ID}.token()
	}
	for _, t := range toks {
		resp.Tokens = append(resp.Tokens, tokenToProto(t))
	}
	return resp, nil
}

// RevokeToken revokes a token at once.
func (a *server) RevokeToken(ctx context.Context, req *identityv1.RevokeTokenRequest) (*identityv1.RevokeTokenResponse, error) {
	tid, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	now := a.s.now()
	var out *identityv1.Token
	err = a.s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := scanToken(tx.QueryRow(ctx, `UPDATE identity.api_tokens SET revoked_at = $2
			WHERE id = $1 AND revoked_at IS NULL RETURNING `+tokenColumns, tid, now))
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM identity.api_tokens WHERE id = $1)`, tid).Scan(&exists); err != nil {
				return fmt.Errorf("select token: %w", err)
			}
			if !exists {
				return errs.E(errs.NotFound, "TOKEN_NOT_FOUND", "API token %s not found", tid).With("id", tid.String())
			}
			return errs.E(errs.FailedPrecondition, "TOKEN_ALREADY_REVOKED", "API token %s is already revoked", tid).With("id", tid.String())
		}
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		out = tokenToProto(t)
		return a.s.enqueue(ctx, tx, tokenEvent(SubjectTokenRevoked, out, &identityv1.TokenRevoked{Token: out}, now))
	})
	if err != nil {
		return nil, err
	}
	return &identityv1.RevokeTokenResponse{Token: out}, nil
}

// RequestGrant asks, for a person, a role above their base role.
func (a *server) RequestGrant(ctx context.Context, req *identityv1.RequestGrantRequest) (*identityv1.RequestGrantResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if id.Kind != auth.KindUser && id.Kind != auth.KindDev {
		return nil, errs.E(errs.FailedPrecondition, "GRANTS_FOR_PEOPLE_ONLY",
			"grants are for people who log in; %s is a %s (give an API token the role it needs instead)", id.Actor(), id.Kind)
	}
	if req.GetRole() <= id.BaseRole {
		return nil, errs.E(errs.FailedPrecondition, "ROLE_NOT_HIGHER",
			"%s already has the %s role, which includes %s: request a higher role",
			id.Actor(), auth.RoleName(id.BaseRole), auth.RoleName(req.GetRole())).With("base_role", auth.RoleName(id.BaseRole))
	}
	uid, err := uuid.Parse(id.Subject)
	if err != nil {
		return nil, errs.E(errs.FailedPrecondition, "GRANTS_FOR_PEOPLE_ONLY", "%s is not a portal user", id.Actor())
	}
	d := req.GetDuration().AsDuration()
	now := a.s.now()
	var out *identityv1.Grant
	err = a.s.inTx(ctx, func(tx pgx.Tx) error {
		gid := uuid.New()
		_, err := tx.Exec(ctx, `INSERT INTO identity.grants (id, user_id, role, reason, duration_ms, state, requested_at)
			VALUES ($1, $2, $3, $4, $5, 'PENDING', $6)`, gid, uid, int16(req.GetRole()), req.GetReason(), d.Milliseconds(), now)
		if err != nil {
			return fmt.Errorf("insert grant: %w", err)
		}
		g, err := getGrant(ctx, tx, gid, false)
		if err != nil {
			return err
		}
		out = grantToProto(g, now)
		return a.s.enqueue(ctx, tx, grantChanged(out, now))
	})
	if err != nil {
		return nil, err
	}
	return &identityv1.RequestGrantResponse{Grant: out}, nil
}

// ListGrants pages through grants, newest first: an admin's view is
// everyone's, anyone else's their own.
func (a *server) ListGrants(ctx context.Context, req *identityv1.ListGrantsRequest) (*identityv1.ListGrantsResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	after, err := parseCursor(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	limit := pageSize(req.GetPageSize())
	now := a.s.now()
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if !id.Allows(authv1.Role_ROLE_ADMIN) {
		uid, err := uuid.Parse(id.Subject)
		if err != nil {
			return &identityv1.ListGrantsResponse{}, nil // not a person: no grants
		}
		where = append(where, "g.user_id = "+arg(uid))
	}
	switch req.GetState() {
	case identityv1.GrantState_GRANT_STATE_UNSPECIFIED:
	case identityv1.GrantState_GRANT_STATE_ACTIVE:
		where = append(where, "g.state = 'ACTIVE' AND g.expires_at > "+arg(now))
	case identityv1.GrantState_GRANT_STATE_EXPIRED:
		where = append(where, "g.state = 'ACTIVE' AND g.expires_at <= "+arg(now))
	case identityv1.GrantState_GRANT_STATE_PENDING:
		where = append(where, "g.state = 'PENDING'")
	case identityv1.GrantState_GRANT_STATE_DENIED:
		where = append(where, "g.state = 'DENIED'")
	case identityv1.GrantState_GRANT_STATE_REVOKED:
		where = append(where, "g.state = 'REVOKED'")
	}
	if after != nil {
		where = append(where, fmt.Sprintf("(g.requested_at, g.id) < (%s, %s)", arg(after.T), arg(after.I)))
	}
	sql := `SELECT ` + grantColumns + grantFrom
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY g.requested_at DESC, g.id DESC LIMIT " + arg(limit+1)
	rows, err := a.s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	grants, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*grant, error) { return scanGrant(r) })
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	resp := &identityv1.ListGrantsResponse{}
	if len(grants) > limit {
		grants = grants[:limit]
		last := grants[limit-1]
		resp.NextPageToken = cursor{T: last.RequestedAt, I: last.ID}.token()
	}
	for _, g := range grants {
		resp.Grants = append(resp.Grants, grantToProto(g, now))
	}
	return resp, nil
}

// decideGrant changes a grant under its row lock, after check, and emits
// GrantChanged.
func (a *server) decideGrant(ctx context.Context, idStr string, check func(g *grant, now time.Time) error,
	update func(tx pgx.Tx, g *grant, now time.Time) error) (*identityv1.Grant, error) {
	gid, err := parseID("id", idStr)
	if err != nil {
		return nil, err
	}
	now := a.s.now()
	var out *identityv1.Grant
	err = a.s.inTx(ctx, func(tx pgx.Tx) error {
		g, err := getGrant(ctx, tx, gid, true)
		if err != nil {
			return err
		}
		if err := check(g, now); err != nil {
			return err
		}
		if err := update(tx, g, now); err != nil {
			return fmt.Errorf("update grant: %w", err)
		}
		if g, err = getGrant(ctx, tx, gid, false); err != nil {
			return err
		}
		out = grantToProto(g, now)
		return a.s.enqueue(ctx, tx, grantChanged(out, now))
	})
	return out, err
}

func notInState(g *grant, now time.Time, want string) error {
	if st := g.state(now); st != want {
		return errs.E(errs.FailedPrecondition, "GRANT_NOT_"+want, "grant %s is %s, not %s", g.ID, strings.ToLower(st), strings.ToLower(want)).
			With("state", st)
	}
	return nil
}

// ApproveGrant activates a pending grant for its duration from now; nobody
// approves their own.
func (a *server) ApproveGrant(ctx context.Context, req *identityv1.ApproveGrantRequest) (*identityv1.ApproveGrantResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	g, err := a.decideGrant(ctx, req.GetId(), func(g *grant, now time.Time) error {
		if g.UserID.String() == id.Subject || (id.Email != "" && strings.EqualFold(id.Email, g.UserEmail)) {
			return errs.E(errs.PermissionDenied, "SELF_APPROVAL", "%s cannot approve their own grant: another admin must", id.Actor())
		}
		return notInState(g, now, statePending)
	}, func(tx pgx.Tx, g *grant, now time.Time) error {
		_, err := tx.Exec(ctx, `UPDATE identity.grants SET state = 'ACTIVE', decided_by = $2, decided_at = $3,
			decision_reason = $4, expires_at = $5 WHERE id = $1`, g.ID, id.Actor(), now, req.GetReason(), now.Add(g.Duration))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &identityv1.ApproveGrantResponse{Grant: g}, nil
}

// DenyGrant denies a pending grant.
func (a *server) DenyGrant(ctx context.Context, req *identityv1.DenyGrantRequest) (*identityv1.DenyGrantResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	g, err := a.decideGrant(ctx, req.GetId(), func(g *grant, now time.Time) error {
		return notInState(g, now, statePending)
	}, func(tx pgx.Tx, g *grant, now time.Time) error {
		_, err := tx.Exec(ctx, `UPDATE identity.grants SET state = 'DENIED', decided_by = $2, decided_at = $3,
			decision_reason = $4 WHERE id = $1`, g.ID, id.Actor(), now, req.GetReason())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &identityv1.DenyGrantResponse{Grant: g}, nil
}

// RevokeGrant ends an active grant now. The decision fields then record the
// revocation (the approval stays in the audit log).
func (a *server) RevokeGrant(ctx context.Context, req *identityv1.RevokeGrantRequest) (*identityv1.RevokeGrantResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	g, err := a.decideGrant(ctx, req.GetId(), func(g *grant, now time.Time) error {
		return notInState(g, now, stateActive)
	}, func(tx pgx.Tx, g *grant, now time.Time) error {
		_, err := tx.Exec(ctx, `UPDATE identity.grants SET state = 'REVOKED', decided_by = $2, decided_at = $3,
			decision_reason = $4, expires_at = $3 WHERE id = $1`, g.ID, id.Actor(), now, req.GetReason())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &identityv1.RevokeGrantResponse{Grant: g}, nil
}

// IntrospectToken resolves an API token for a service.
func (a *server) IntrospectToken(ctx context.Context, req *identityv1.IntrospectTokenRequest) (*identityv1.IntrospectTokenResponse, error) {
	id, until, err := a.s.Introspector().Introspect(ctx, req.GetSecret())
	if err != nil {
		return nil, err
	}
	return &identityv1.IntrospectTokenResponse{Principal: auth.ToPrincipal(id), ValidUntil: timestamppb.New(until)}, nil
}

func hexHash(sid string) ([]byte, error) {
	b, err := hex.DecodeString(sid)
	if err != nil || len(b) != 32 {
		return nil, errors.New("not a session id")
	}
	return b, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
