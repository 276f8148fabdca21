// Command provisioning runs the provisioning service on its own, for
// deployments that scale each service separately. `provisioning migrate`
// applies its migrations and exits; `provisioning` serves gRPC and /metrics.
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
	"golang.org/x/sync/errgroup"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/platformportal/portal/platform/buildinfo"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/httpserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/postgres"
	"github.com/platformportal/portal/platform/telemetry"
	"github.com/platformportal/portal/services/provisioning"
)

type cfg struct {
	GRPCAddr    string `env:"PROVISIONING_GRPC_ADDR, default=:9092"`
	MetricsAddr string `env:"PROVISIONING_METRICS_ADDR, default=:9465"`
	Log         config.Log
	Postgres    config.Postgres
	NATS        config.NATS
	Telemetry   config.Telemetry
	Shutdown    config.Shutdown
	Service     provisioning.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "provisioning:", err)
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
	logger := logging.New(stdout, level, "provisioning")
	pool, err := postgres.Connect(ctx, c.Postgres.URL, c.Postgres.MaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cmd == "migrate" {
		return provisioning.Migrate(ctx, pool, logger)
	}
	tel, err := telemetry.Setup(ctx, c.Telemetry, "provisioning", buildinfo.String())
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx)) //nolint:errcheck
	nc, err := events.Connect(ctx, c.NATS.URL, "provisioning", logger)
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
	if _, err := events.EnsureLogStream(ctx, js); err != nil {
		return err
	}
	if c.Service.AgentNATSURL == "" {
		c.Service.AgentNATSURL = c.NATS.URL
	}
	svc, err := provisioning.New(pool, nc, js, c.Service, logger)
	if err != nil {
		return err
	}
	srv, err := grpcserver.New(logger)
	if err != nil {
		return err
	}
	svc.Register(srv)
	srv.Health.SetServingStatus(provisioning.Name, healthpb.HealthCheckResponse_SERVING)
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
	logger.Info("provisioning serving", "grpc_addr", lis.Addr().String(), "metrics_addr", mlis.Addr().String(), "version", buildinfo.String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, lis, c.Shutdown.Timeout) })
	g.Go(func() error { return svc.Run(gctx) })
	g.Go(func() error { return httpserver.Serve(gctx, mlis, mux, c.Shutdown.Timeout) })
	err = g.Wait()
	logger.Info("provisioning stopped")
	return err
}
