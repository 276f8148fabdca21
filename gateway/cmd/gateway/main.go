// Command gateway runs the HTTP gateway on its own, in front of the services'
// gRPC APIs, for deployments that scale each part separately.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/platformportal/portal/gateway"
	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/buildinfo"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/httpserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/postgres"
	"github.com/platformportal/portal/platform/runner"
	"github.com/platformportal/portal/platform/telemetry"
)

type cfg struct {
	HTTPAddr string `env:"GATEWAY_HTTP_ADDR, default=:8080"`
	// GRPCAddr serves the identity service (users, tokens, grants, token
	// introspection for the other services).
	GRPCAddr string `env:"GATEWAY_GRPC_ADDR, default=:9095"`
	// AgentsAddr is the agents service's gRPC address.
	AgentsAddr string `env:"AGENTS_GRPC_TARGET, default=127.0.0.1:9091"`
	// ProvisioningAddr is the provisioning service's; empty leaves the
	// workload and log routes out.
	ProvisioningAddr string `env:"PROVISIONING_GRPC_TARGET"`
	// AuditAddr is the audit service's; empty leaves the audit routes out.
	AuditAddr string `env:"AUDIT_GRPC_TARGET"`
	Log       config.Log
	Postgres  config.Postgres
	NATS      config.NATS
	Telemetry config.Telemetry
	Shutdown  config.Shutdown
	Auth      config.Auth
	Gateway   gateway.Config
	Identity  gateway.IdentityConfig
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
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
	var c cfg
	if err := config.Load(ctx, getenv, &c); err != nil {
		return err
	}
	level, err := c.Log.SlogLevel()
	if err != nil {
		return err
	}
	logger := logging.New(stdout, level, "gateway")
	pool, err := postgres.Connect(ctx, c.Postgres.URL, c.Postgres.MaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := gateway.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	if cmd == "migrate" {
		return nil
	}
	if c.NATS.URL == "" {
		return errors.New("NATS_URL is required")
	}
	// The gateway is the identity service: it verifies API tokens for the
	// others, so it needs no identity target of its own.
	key, _, _, err := runner.Guard(config.Auth{InternalKey: c.Auth.InternalKey}, "gateway")
	if err != nil {
		return err
	}
	tel, err := telemetry.Setup(ctx, c.Telemetry, "gateway", buildinfo.String())
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx)) //nolint:errcheck

	nc, js, err := runner.ConnectNATS(ctx, c.NATS, "gateway", logger)
	if err != nil {
		return err
	}
	defer nc.Drain() //nolint:errcheck

	ident, err := gateway.NewIdentity(ctx, c.Identity, pool, js, logger.With("component", "identity"))
	if err != nil {
		return err
	}
	gsrv, err := grpcserver.New(logger, auth.NewGuard(key, ident.Introspector()))
	if err != nil {
		return err
	}
	ident.Register(gsrv)
	gsrv.Health.SetServingStatus(gateway.IdentityName, healthpb.HealthCheckResponse_SERVING)
	glis, err := net.Listen("tcp", c.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", c.GRPCAddr, err)
	}
	defer glis.Close()

	dial := func(name, target string) (*grpc.ClientConn, error) {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if err != nil {
			return nil, fmt.Errorf("dial %s at %s: %w", name, target, err)
		}
		return conn, nil
	}
	conn, err := dial("agents", c.AgentsAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	self, err := dial("identity", "127.0.0.1:"+strconv.Itoa(glis.Addr().(*net.TCPAddr).Port))
	if err != nil {
		return err
	}
	defer self.Close()
	deps := gateway.Deps{Agents: conn, Identity: ident, IdentityConn: self, Key: key,
		NATS: nc, JS: js, Metrics: tel.Handler(), Logger: logger}
	if c.ProvisioningAddr != "" {
		if deps.Provisioning, err = dial("provisioning", c.ProvisioningAddr); err != nil {
			return err
		}
		defer deps.Provisioning.Close()
	}
	if c.AuditAddr != "" {
		if deps.Audit, err = dial("audit", c.AuditAddr); err != nil {
			return err
		}
		defer deps.Audit.Close()
	}
	gw, err := gateway.New(ctx, c.Gateway, deps)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w", c.HTTPAddr, err)
	}
	logger.Info("gateway ready", "http_addr", lis.Addr().String(), "grpc_addr", glis.Addr().String(),
		"agents", c.AgentsAddr, "version", buildinfo.String())

	g, gctx := errgroup.WithContext(ctx)
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRelay()
	g.Go(func() error { return gw.Run(gctx) })
	g.Go(func() error {
		defer stopRelay()
		return httpserver.Serve(gctx, lis, gw.Handler(), c.Shutdown.Timeout)
	})
	g.Go(func() error { return gsrv.Serve(gctx, glis, c.Shutdown.Timeout) })
	g.Go(func() error {
		return outbox.RunThenDrain(relayCtx, c.Shutdown.Timeout, ident.Run, ident.DrainOutbox)
	})
	return g.Wait()
}
