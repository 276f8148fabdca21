package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/platformportal/portal/platform/errs"
	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/postgres"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// The SQL lives beside the code that runs it; every time comes from the
// service's clock (s.now), never the database's, so that a test clock moves
// sessions and grants as it moves the service.

type user struct {
	ID        uuid.UUID
	Issuer    string
	Subject   string
	Email     string
	Name      string
	Groups    []string
	Assigned  authv1.Role // ROLE_UNSPECIFIED: none
	CreatedAt time.Time
	LastLogin time.Time
	Version   int64
}

const userColumns = `id, issuer, oidc_subject, email, name, groups, assigned_role, created_at, last_login_at, version`

func scanUser(row pgx.Row) (*user, error) {
	var u user
	var assigned *int16
	if err := row.Scan(&u.ID, &u.Issuer, &u.Subject, &u.Email, &u.Name, &u.Groups, &assigned, &u.CreatedAt, &u.LastLogin, &u.Version); err != nil {
		return nil, err
	}
	if assigned != nil {
		u.Assigned = authv1.Role(*assigned)
	}
	return &u, nil
}

// etag is the user's version as the API shows it.
func (u *user) etag() string { return fmt.Sprintf("%d", u.Version) }

// upsertUser records a login of (issuer, subject): the profile is refreshed
// from the issuer each time; the version (etag) moves only when it changes.
func upsertUser(ctx context.Context, tx pgx.Tx, issuer, subject, email, name string, groups []string, now time.Time) (*user, error) {
	if groups == nil {
		groups = []string{}
	}
	u, err := scanUser(tx.QueryRow(ctx, `
		INSERT INTO identity.users (id, issuer, oidc_subject, email, name, groups, created_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
		ON CONFLICT (issuer, oidc_subject) DO UPDATE SET
			email = EXCLUDED.email, name = EXCLUDED.name, groups = EXCLUDED.groups,
			last_login_at = EXCLUDED.last_login_at,
			version = users.version + CASE WHEN (users.email, users.name, users.groups)
				IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.name, EXCLUDED.groups) THEN 1 ELSE 0 END
		RETURNING `+userColumns, uuid.New(), issuer, subject, email, name, groups, now))
	if err != nil {
		return nil, fmt.Errorf("upsert user: %w", err)
	}
	return u, nil
}

type session struct {
	Hash      []byte
	UserID    uuid.UUID
	Kind      string // "user" or "dev"
	DevRole   authv1.Role
	CSRF      string
	CreatedAt time.Time
	LastSeen  time.Time
	Expires   time.Time
	Absolute  time.Time
	EndedAt   *time.Time
	EndReason string
}

type token struct {
	ID        uuid.UUID
	Name      string
	Role      authv1.Role
	Prefix    string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
	LastUsed  *time.Time
}

const tokenColumns = `id, name, role, prefix, created_by, created_at, expires_at, revoked_at, last_used_at`

func scanToken(row pgx.Row) (*token, error) {
	var t token
	var role int16
	if err := row.Scan(&t.ID, &t.Name, &role, &t.Prefix, &t.CreatedBy, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsed); err != nil {
		return nil, err
	}
	t.Role = authv1.Role(role)
	return &t, nil
}

// Grant states as stored; EXPIRED is derived (see grant.state).
const (
	statePending = "PENDING"
	stateActive  = "ACTIVE"
	stateDenied  = "DENIED"
	stateRevoked = "REVOKED"
	stateExpired = "EXPIRED"
)

type grant struct {
	ID             uuid.UUID
	UserID         uuid.UUID
	UserEmail      string
	Role           authv1.Role
	Reason         string
	Duration       time.Duration
	State          string
	RequestedAt    time.Time
	DecidedBy      string
	DecidedAt      *time.Time
	DecisionReason string
	ExpiresAt      *time.Time
}

// state is the grant's state at now: an approved grant past its expiry is
// expired, with no job having to mark it.
func (g *grant) state(now time.Time) string {
	if g.State == stateActive && g.ExpiresAt != nil && !now.Before(*g.ExpiresAt) {
		return stateExpired
	}
	return g.State
}

const grantColumns = `g.id, g.user_id, u.email, g.role, g.reason, g.duration_ms, g.state, g.requested_at,
	g.decided_by, g.decided_at, g.decision_reason, g.expires_at`

const grantFrom = ` FROM identity.grants g JOIN identity.users u ON u.id = g.user_id`

func scanGrant(row pgx.Row) (*grant, error) {
	var g grant
	var role int16
	var ms int64
	if err := row.Scan(&g.ID, &g.UserID, &g.UserEmail, &role, &g.Reason, &ms, &g.State, &g.RequestedAt,
		&g.DecidedBy, &g.DecidedAt, &g.DecisionReason, &g.ExpiresAt); err != nil {
		return nil, err
	}
	g.Role = authv1.Role(role)
	g.Duration = time.Duration(ms) * time.Millisecond
	return &g, nil
}

func getGrant(ctx context.Context, q pgx.Tx, id uuid.UUID, lock bool) (*grant, error) {
	sql := `SELECT ` + grantColumns + grantFrom + ` WHERE g.id = $1`
	if lock {
		sql += ` FOR UPDATE OF g`
	}
	g, err := scanGrant(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "GRANT_NOT_FOUND", "grant %s not found", id).With("id", id.String())
	}
	if err != nil {
		return nil, fmt.Errorf("select grant: %w", err)
	}
	return g, nil
}

// inTx runs fn in a transaction with the outbox at hand.
func (s *Service) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return postgres.InTx(ctx, s.pool, fn)
}

// enqueue writes events in tx.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, evs ...outbox.Event) error {
	if _, err := s.outbox.Enqueue(ctx, tx, evs...); err != nil {
		return fmt.Errorf("enqueue events: %w", err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func roleArg(r authv1.Role) *int16 {
	if r == authv1.Role_ROLE_UNSPECIFIED {
		return nil
	}
	v := int16(r)
	return &v
}
