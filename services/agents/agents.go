// Package agents is the agent registry and lifecycle service: build it with
// New, register it on a gRPC server, and run its outbox relay beside it.
package agents

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/postgres"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	"github.com/platformportal/portal/services/agents/internal/agents"
	"github.com/platformportal/portal/services/agents/internal/grpcapi"
	store "github.com/platformportal/portal/services/agents/internal/postgres"
)

// Name is the service's name in logs, health and telemetry.
const Name = "portal.agents.v1.AgentService"

// Schema is the PostgreSQL schema the service owns.
const Schema = store.Schema

// Migrations are the service's embedded migrations.
func Migrations() fs.FS { return store.Migrations() }

// Migrate applies the service's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return postgres.Migrate(ctx, pool, Schema, Migrations(), logger)
}

// Service is the agents service, ready to register.
type Service struct {
	server *grpcapi.Server
	relay  *outbox.Relay
}

// New builds the service on pool, publishing its events to js.
func New(pool *pgxpool.Pool, js jetstream.JetStream, logger *slog.Logger) (*Service, error) {
	ob, err := outbox.New(store.OutboxTable)
	if err != nil {
		return nil, err
	}
	relay, err := outbox.NewRelay(ob, pool, js, logger, outbox.RelayOptions{})
	if err != nil {
		return nil, fmt.Errorf("agents outbox relay: %w", err)
	}
	svc := agents.NewService(store.New(pool, ob, grpcapi.Events{}))
	return &Service{server: grpcapi.NewServer(svc), relay: relay}, nil
}

// Register adds the AgentService to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	agentsv1.RegisterAgentServiceServer(r, s.server)
}

// RunRelay publishes the service's committed events until ctx ends.
func (s *Service) RunRelay(ctx context.Context) error { return s.relay.Run(ctx) }

// DrainOutbox publishes what is committed now and returns, for a last pass at
// shutdown; whatever it misses is published at the next start.
func (s *Service) DrainOutbox(ctx context.Context) error { return s.relay.Drain(ctx) }
