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
	"syscall"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/platformportal/portal/gateway"
	"github.com/platformportal/portal/platform/buildinfo"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/httpserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/runner"
	"github.com/platformportal/portal/platform/telemetry"
)

type cfg struct {
	HTTPAddr string `env:"GATEWAY_HTTP_ADDR, default=:8080"`
	// AgentsAddr is the agents service's gRPC address.
	AgentsAddr string `env:"AGENTS_GRPC_TARGET, default=127.0.0.1:9091"`
	// ProvisioningAddr is the provisioning service's; empty leaves the
	// workload and log routes out.
	ProvisioningAddr string `env:"PROVISIONING_GRPC_TARGET"`
	Log              config.Log
	NATS             config.NATS
	Telemetry        config.Telemetry
	Shutdown         config.Shutdown
	Gateway          gateway.Config
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
	if len(args) > 0 && args[0] == "version" {
		fmt.Fprintln(stdout, buildinfo.String())
		return nil
	}
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q: want version, or nothing to serve", args[0])
	}
	var c cfg
	if err := config.Load(ctx, getenv, &c); err != nil {
		return err
	}
	if c.NATS.URL == "" {
		return errors.New("NATS_URL is required")
	}
	level, err := c.Log.SlogLevel()
	if err != nil {
		return err
	}
	logger := logging.New(stdout, level, "gateway")
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
	conn, err := grpc.NewClient(c.AgentsAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		return fmt.Errorf("dial agents at %s: %w", c.AgentsAddr, err)
	}
	defer conn.Close()
	deps := gateway.Deps{Agents: conn, NATS: nc, JS: js, Metrics: tel.Handler(), Logger: logger}
	if c.ProvisioningAddr != "" {
		pconn, err := grpc.NewClient(c.ProvisioningAddr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if err != nil {
			return fmt.Errorf("dial provisioning at %s: %w", c.ProvisioningAddr, err)
		}
		defer pconn.Close()
		deps.Provisioning = pconn
	}
	gw, err := gateway.New(ctx, c.Gateway, deps)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w", c.HTTPAddr, err)
	}
	logger.Info("gateway ready", "http_addr", lis.Addr().String(), "agents", c.AgentsAddr, "version", buildinfo.String())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return gw.Run(gctx) })
	g.Go(func() error { return httpserver.Serve(gctx, lis, gw.Handler(), c.Shutdown.Timeout) })
	return g.Wait()
}
