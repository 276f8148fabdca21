// Package agents is the agent registry and lifecycle service: build it with
// New, register it on a gRPC server, and run its outbox relay beside it.
package agents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/platformportal/portal/platform/errs"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/postgres"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	provisioningv1 "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
	"github.com/platformportal/portal/services/agents/internal/agents"
	"github.com/platformportal/portal/services/agents/internal/grpcapi"
	store "github.com/platformportal/portal/services/agents/internal/postgres"
	"github.com/platformportal/portal/services/agents/internal/runtime"
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
	svc    *agents.Service
	js     jetstream.JetStream
	logger *slog.Logger
}

// New builds the service on pool, publishing its events to js. With a
// connection to the provisioning service, lifecycle actions run real
// workloads through it; with nil, they only move the agent's state (a
// registry without a runtime).
func New(pool *pgxpool.Pool, js jetstream.JetStream, logger *slog.Logger, provisioning grpc.ClientConnInterface) (*Service, error) {
	ob, err := outbox.New(store.OutboxTable)
	if err != nil {
		return nil, err
	}
	relay, err := outbox.NewRelay(ob, pool, js, logger, outbox.RelayOptions{})
	if err != nil {
		return nil, fmt.Errorf("agents outbox relay: %w", err)
	}
	var rt agents.Runtime
	if provisioning != nil {
		rt = runtime.New(provisioningv1.NewProvisioningServiceClient(provisioning))
	}
	svc := agents.NewService(store.New(pool, ob, grpcapi.Events{}), rt, logger)
	return &Service{server: grpcapi.NewServer(svc), relay: relay, svc: svc, js: js, logger: logger}, nil
}

// RunOperations carries out lifecycle operations (resuming those a previous
// process left unfinished) and records the failures the runtime reports on
// its own, until ctx ends.
func (s *Service) RunOperations(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.followFailures(ctx) }()
	err := s.svc.RunOperations(ctx)
	return errors.Join(err, <-errc)
}

// followFailures records WorkloadFailed events (a running agent that started
// crash-looping) with a durable consumer, so none is missed across restarts.
func (s *Service) followFailures(ctx context.Context) error {
	cons, err := s.js.CreateOrUpdateConsumer(ctx, events.Stream, jetstream.ConsumerConfig{
		Durable:       "agents-workload-failed",
		FilterSubject: events.Subject("provisioning", "workload_failed"),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		MaxDeliver:    20,
		AckWait:       30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("workload failure consumer: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		var ev provisioningv1.WorkloadFailed
		if err := proto.Unmarshal(msg.Data(), &ev); err != nil {
			s.logger.Warn("malformed workload failure event", "error", err)
			msg.Term() //nolint:errcheck
			return
		}
		id, err := uuid.Parse(ev.GetAgentId())
		if err != nil {
			msg.Term() //nolint:errcheck
			return
		}
		f := ev.GetFailure()
		_, _, err = s.svc.Fail(ctx, id, &agents.RuntimeError{Class: f.GetClass(), Code: f.GetCode(), Message: f.GetMessage(), Details: f.GetDetails()})
		switch {
		case errs.Is(err, errs.NotFound), errs.Is(err, errs.FailedPrecondition):
			msg.Ack() //nolint:errcheck // the agent is gone or cannot fail now
		case err != nil:
			s.logger.Warn("workload failure not recorded; will retry", "agent_id", id, "error", err)
			msg.NakWithDelay(time.Second) //nolint:errcheck
		default:
			msg.Ack() //nolint:errcheck
		}
	})
	if err != nil {
		return fmt.Errorf("consume workload failures: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	return nil
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
