// Package identity is who is who in the portal, owned by the gateway (schema
// "identity"): OpenID Connect login with PKCE, browser sessions with CSRF
// tokens, the labelled development login, API tokens, roles mapped from the
// configuration or assigned by admins, temporary grants, and the security
// events of all of these.
//
// The gateway builds a Service with New, mounts Routes at /auth/, calls
// Authenticate (and CheckCSRF for writes) on every API request, registers the
// IdentityService on its gRPC server, and runs Run (the outbox relay and the
// sweep of expired grants and old sessions) beside it. Services
// check API tokens presented to them directly through the IdentityService
// (auth.NewIdentityClient); the gateway itself uses Introspector in-process.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/postgres"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema is the PostgreSQL schema the identity service owns.
const Schema = "identity"

// OutboxTable is where its events wait for the relay.
const OutboxTable = Schema + ".outbox"

// Migrations returns the embedded migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Migrate applies the identity migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return postgres.Migrate(ctx, pool, Schema, Migrations(), logger)
}

// Service is login, sessions, tokens, roles and grants.
type Service struct {
	cfg    Config
	roles  roles
	pool   *pgxpool.Pool
	outbox *outbox.Outbox
	relay  *outbox.Relay // nil without JetStream
	logger *slog.Logger
	oidc   *oidcClient // nil when OIDC login is off
	api    *server
	// clock is the time of sessions, tokens and grants (a test moves it).
	clock func() time.Time
}

// now is the clock's time at PostgreSQL's precision, so that times the
// service computes equal those it reads back.
func (s *Service) now() time.Time { return s.clock().Truncate(time.Microsecond) }

// New builds the service. js publishes its events (RunRelay); with a nil js
// the events stay in the outbox table until a relay with JetStream runs. The
// OIDC issuer is not contacted here: discovery happens at the first login and
// is retried after a failure, so the gateway starts while the issuer is down.
func New(ctx context.Context, cfg Config, pool *pgxpool.Pool, js jetstream.JetStream, logger *slog.Logger) (*Service, error) {
	r, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("identity configuration: %w", err)
	}
	ob, err := outbox.New(OutboxTable)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, roles: r, pool: pool, outbox: ob, logger: logger, clock: time.Now}
	if js != nil {
		if s.relay, err = outbox.NewRelay(ob, pool, js, logger, outbox.RelayOptions{}); err != nil {
			return nil, fmt.Errorf("identity outbox relay: %w", err)
		}
	}
	if cfg.OIDCClientID != "" {
		s.oidc = &oidcClient{cfg: cfg, now: func() time.Time { return s.now() }}
	} else {
		logger.InfoContext(ctx, "OIDC login is off: OIDC_CLIENT_ID is not set")
	}
	if cfg.DevLogin {
		logger.WarnContext(ctx, "the development login is ENABLED (AUTH_DEV_LOGIN=true): anyone reaching the gateway can log in as anyone with any role; never enable it in production")
	}
	if !cfg.CookieSecure {
		logger.WarnContext(ctx, "session cookies are not Secure (AUTH_COOKIE_SECURE=false): for plain-http development only")
	}
	s.api = &server{s: s}
	return s, nil
}

// Register adds the IdentityService to srv.
func (s *Service) Register(srv *grpcserver.Server) {
	identityv1.RegisterIdentityServiceServer(srv, s.api)
}

var errNoRelay = errors.New("identity: no JetStream given to New, so no outbox relay")

// RunRelay publishes the service's committed events until ctx ends.
func (s *Service) RunRelay(ctx context.Context) error {
	if s.relay == nil {
		return errNoRelay
	}
	return s.relay.Run(ctx)
}

// DrainOutbox publishes what is committed now and returns, for a last pass at
// shutdown; whatever it misses is published at the next start.
func (s *Service) DrainOutbox(ctx context.Context) error {
	if s.relay == nil {
		return errNoRelay
	}
	return s.relay.Drain(ctx)
}

// randomString is n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashOf(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
