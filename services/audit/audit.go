// Package audit is the audit log service: an append-only, hash-chained record
// of every platform event. Build it with New, register it on a gRPC server,
// and run its consumer beside it.
package audit

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/postgres"
	auditv1 "github.com/platformportal/portal/proto/gen/go/portal/audit/v1"
	"github.com/platformportal/portal/services/audit/internal/audit"
	"github.com/platformportal/portal/services/audit/internal/grpcapi"
	"github.com/platformportal/portal/services/audit/internal/ingest"
	store "github.com/platformportal/portal/services/audit/internal/postgres"
)

// Name is the service's name in logs, health and telemetry.
const Name = "portal.audit.v1.AuditService"

// Schema is the PostgreSQL schema the service owns.
const Schema = store.Schema

// Migrations are the service's embedded migrations.
func Migrations() fs.FS { return store.Migrations() }

// Migrate applies the service's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return postgres.Migrate(ctx, pool, Schema, Migrations(), logger)
}

// Service is the audit service, ready to register and run.
type Service struct {
	server   *grpcapi.Server
	consumer *ingest.Consumer
}

// New builds the service on pool, recording the events of js's event stream.
func New(pool *pgxpool.Pool, js jetstream.JetStream, logger *slog.Logger) (*Service, error) {
	st := store.New(pool)
	consumer, err := ingest.New(js, st, logger, ingest.Options{})
	if err != nil {
		return nil, fmt.Errorf("audit consumer: %w", err)
	}
	return &Service{server: grpcapi.NewServer(audit.NewService(st)), consumer: consumer}, nil
}

// Register adds the AuditService to srv.
func (s *Service) Register(srv *grpcserver.Server) {
	auditv1.RegisterAuditServiceServer(srv, s.server)
}

// Run records the platform's events in the log until ctx ends. Replicas may
// each run it: they share one durable consumer, and a lock keeps their
// appends in one chain.
func (s *Service) Run(ctx context.Context) error { return s.consumer.Run(ctx) }
