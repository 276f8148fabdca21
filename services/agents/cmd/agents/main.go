// Command agents runs the agents service on its own, for deployments that scale
// each service separately. `agents migrate` applies its migrations and exits
// (run it as a job before rolling out); `agents` serves gRPC and /metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/platformportal/portal/platform/buildinfo"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/httpserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/postgres"
	"github.com/platformportal/portal/platform/telemetry"
	"github.com/platformportal/portal/services/agents"
)

type cfg struct {
	GRPCAddr    string `env:"AGENTS_GRPC_ADDR, default=:9091"`
	MetricsAddr string `env:"AGENTS_METRICS_ADDR, default=:9464"`
	// ProvisioningTarget is the provisioning service's gRPC address; without
	// it, actions only move agents' states (a registry without a runtime).
	ProvisioningTarget string `env:"PROVISIONING_GRPC_TARGET"`
	Log                config.Log
	Postgres           config.Postgres
	NATS               config.NATS
	Telemetry          config.Telemetry
	Shutdown           config.Shutdown
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agents:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if cmd == "version" {
		fmt.Fprintln(stdout, buildinfo.String())
		return nil
	}
	if cmd != "serve" && cmd != "migrate" {
		return fmt.Errorf("unknown command %q: want serve, migrate or version", cmd)
	}
	var c cfg
	if err := config.Load(ctx, getenv, &c); err != nil {
		return err
	}
	if c.NATS.URL == "" && cmd == "serve" {
		return errors.New("NATS_URL is required")
	}
	level, err := c.Log.SlogLevel()
	if err != nil {
		return err
	}
	logger := logging.New(stdout, level, "agents")

	pool, err := postgres.Connect(ctx, c.Postgres.URL, c.Postgres.MaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cmd == "migrate" {
		return agents.Migrate(ctx, pool, logger)
	}

	tel, err := telemetry.Setup(ctx, c.Telemetry, "agents", buildinfo.String())
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx)) //nolint:errcheck
	nc, err := events.Connect(ctx, c.NATS.URL, "agents", logger)
	if err != nil {
		return err
	}
	defer nc.Drain() //nolint:errcheck
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := events.EnsureStream(ctx, js, c.NATS); err != nil {
		return err
	}

	var prov *grpc.ClientConn
	if c.ProvisioningTarget != "" {
		prov, err = grpc.NewClient(c.ProvisioningTarget, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if err != nil {
			return fmt.Errorf("dial provisioning at %s: %w", c.ProvisioningTarget, err)
		}
		defer prov.Close()
	} else {
		logger.Warn("PROVISIONING_GRPC_TARGET is not set: lifecycle actions will only move agents' states")
	}
	var provConn grpc.ClientConnInterface
	if prov != nil {
		provConn = prov
	}
	svc, err := agents.New(pool, js, logger, provConn)
	if err != nil {
		return err
	}
	srv, err := grpcserver.New(logger)
	if err != nil {
		return err
	}
	svc.Register(srv)
	srv.Health.SetServingStatus(agents.Name, healthpb.HealthCheckResponse_SERVING)

	lis, err := net.Listen("tcp", c.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC: %w", err)
	}
	mlis, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen for metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.Handler())
	logger.Info("agents serving", "grpc_addr", lis.Addr().String(), "metrics_addr", mlis.Addr().String(), "version", buildinfo.String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, lis, c.Shutdown.Timeout) })
	g.Go(func() error { return svc.RunRelay(gctx) })
	g.Go(func() error { return svc.RunOperations(gctx) })
	g.Go(func() error { return httpserver.Serve(gctx, mlis, mux, c.Shutdown.Timeout) })
	err = g.Wait()
	// A last pass for what the final requests committed; the rest is published
	// at the next start.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Shutdown.Timeout)
	defer cancel()
	if derr := svc.DrainOutbox(dctx); derr != nil {
		logger.Warn("outbox not drained at shutdown; it will be at the next start", "error", derr)
	}
	logger.Info("agents stopped")
	return err
}
