package gateway

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platformportal/portal/gateway/internal/identity"
)

// Identity is the identity service the gateway runs: login and sessions,
// users and their roles, API tokens and temporary grants. Register it on a
// gRPC server, and run its relay beside the gateway.
type Identity = identity.Service

// IdentityConfig configures login, roles and sessions (OIDC_*, AUTH_*).
type IdentityConfig = identity.Config

// IdentityName is the identity service's name in health checks.
const IdentityName = "portal.identity.v1.IdentityService"

// NewIdentity builds the identity service on pool, publishing its events to js.
func NewIdentity(ctx context.Context, cfg IdentityConfig, pool *pgxpool.Pool, js jetstream.JetStream, logger *slog.Logger) (*Identity, error) {
	return identity.New(ctx, cfg, pool, js, logger)
}

// Migrate applies the gateway's migrations (the identity schema).
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return identity.Migrate(ctx, pool, logger)
}
