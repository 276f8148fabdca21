// Package runner is what a standalone service binary does around its
// service: read the shared configuration, build the logger, open the
// database (or only migrate it), set up telemetry, connect to NATS and
// declare the streams, then serve gRPC and /metrics until the context ends.
// Each cmd/<service>/main.go keeps its own run() and says only what is its own.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/buildinfo"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/httpserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/postgres"
	"github.com/platformportal/portal/platform/telemetry"
)

// Common is the configuration every service binary shares.
type Common struct {
	Log       config.Log
	Postgres  config.Postgres
	NATS      config.NATS
	Telemetry config.Telemetry
	Shutdown  config.Shutdown
	Auth      config.Auth
}

// Service is what a binary provides.
type Service struct {
	// Name is used in logs and telemetry ("agents").
	Name string
	// Migrate applies the service's migrations.
	Migrate func(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error
	// Build makes the service, registers it on srv and returns what runs
	// beside the server until ctx ends (relays, workers); it may add routes to
	// the metrics mux.
	Build func(ctx context.Context, env *Env, srv *grpcserver.Server) ([]func(context.Context) error, error)
}

// Env is what Build gets.
type Env struct {
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	NATS   *nats.Conn
	JS     jetstream.JetStream
	// Credentials are the service's own, for calling other services.
	Credentials grpc.DialOption
}

// Main runs a service binary: args[0] is "serve" (the default), "migrate" or
// "version"; c is the binary's configuration (already loaded), grpcAddr and
// metricsAddr where it listens.
func Main(ctx context.Context, args []string, stdout io.Writer, c Common, grpcAddr, metricsAddr string, svc Service) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, buildinfo.String())
		return nil
	case "serve", "migrate":
	default:
		return fmt.Errorf("unknown command %q: want serve, migrate or version", cmd)
	}
	if c.NATS.URL == "" && cmd == "serve" {
		return errors.New("NATS_URL is required")
	}
	level, err := c.Log.SlogLevel()
	if err != nil {
		return err
	}
	logger := logging.New(stdout, level, svc.Name)
	pool, err := postgres.Connect(ctx, c.Postgres.URL, c.Postgres.MaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cmd == "migrate" {
		return svc.Migrate(ctx, pool, logger)
	}

	tel, err := telemetry.Setup(ctx, c.Telemetry, svc.Name, buildinfo.String())
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx)) //nolint:errcheck
	nc, js, err := ConnectNATS(ctx, c.NATS, svc.Name, logger)
	if err != nil {
		return err
	}
	defer nc.Drain() //nolint:errcheck
	key, guard, closeGuard, err := Guard(c.Auth, svc.Name)
	if err != nil {
		return err
	}
	defer closeGuard()
	srv, err := grpcserver.New(logger, guard)
	if err != nil {
		return err
	}
	creds := grpc.WithPerRPCCredentials(auth.ServiceCredentials(key, svc.Name))
	workers, err := svc.Build(ctx, &Env{Logger: logger, Pool: pool, NATS: nc, JS: js, Credentials: creds}, srv)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", grpcAddr, err)
	}
	mlis, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", metricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.Handler())
	logger.Info(svc.Name+" serving", "grpc_addr", lis.Addr().String(), "metrics_addr", mlis.Addr().String(), "version", buildinfo.String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, lis, c.Shutdown.Timeout) })
	g.Go(func() error { return httpserver.Serve(gctx, mlis, mux, c.Shutdown.Timeout) })
	for _, w := range workers {
		g.Go(func() error { return w(gctx) })
	}
	err = g.Wait()
	logger.Info(svc.Name + " stopped")
	return err
}

// Guard reads the internal key (required) and returns the guard of a
// standalone service: it verifies the gateway's internal tokens and, when
// the identity service's address is set, API tokens presented directly.
func Guard(c config.Auth, service string) (auth.Key, *auth.Guard, func(), error) {
	if c.InternalKey == "" {
		return auth.Key{}, nil, nil, errors.New("PORTAL_INTERNAL_KEY is required: the base64 key (32 bytes or more) this portal's processes share to sign identities (openssl rand -base64 32)")
	}
	key, err := auth.ParseKey(c.InternalKey)
	if err != nil {
		return auth.Key{}, nil, nil, fmt.Errorf("PORTAL_INTERNAL_KEY: %w", err)
	}
	if c.IdentityTarget == "" {
		return key, auth.NewGuard(key, nil), func() {}, nil
	}
	conn, err := grpc.NewClient(c.IdentityTarget, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.ServiceCredentials(key, service)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		return auth.Key{}, nil, nil, fmt.Errorf("PORTAL_IDENTITY_GRPC_TARGET %q: %w", c.IdentityTarget, err)
	}
	return key, auth.NewGuard(key, auth.NewIdentityClient(conn)), func() { conn.Close() }, nil
}

// ConnectNATS connects to cfg.URL and declares the platform's streams
// (whoever starts first declares them; declaring is idempotent).
func ConnectNATS(ctx context.Context, cfg config.NATS, name string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := events.Connect(ctx, cfg.URL, name, logger, opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if _, err := events.EnsureStream(ctx, js, cfg); err != nil {
		nc.Close()
		return nil, nil, err
	}
	if _, err := events.EnsureLogStream(ctx, js); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
