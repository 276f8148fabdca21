// Command agents runs the agents service on its own, for deployments that
// scale each service separately. `agents migrate` applies its migrations and
// exits (run it as a job before rolling out); `agents` serves gRPC and
// /metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/runner"
	"github.com/platformportal/portal/services/agents"
)

type cfg struct {
	GRPCAddr    string `env:"AGENTS_GRPC_ADDR, default=:9091"`
	MetricsAddr string `env:"AGENTS_METRICS_ADDR, default=:9464"`
	// ProvisioningTarget is the provisioning service's gRPC address; without
	// it, actions only move agents' states (a registry without a runtime).
	ProvisioningTarget string `env:"PROVISIONING_GRPC_TARGET"`
	runner.Common
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
	var c cfg
	if err := config.Load(ctx, getenv, &c); err != nil {
		return err
	}
	return runner.Main(ctx, args, stdout, c.Common, c.GRPCAddr, c.MetricsAddr, runner.Service{
		Name:    "agents",
		Migrate: agents.Migrate,
		Build: func(ctx context.Context, env *runner.Env, srv *grpcserver.Server) ([]func(context.Context) error, error) {
			var prov grpc.ClientConnInterface
			if c.ProvisioningTarget != "" {
				conn, err := grpc.NewClient(c.ProvisioningTarget, grpc.WithTransportCredentials(insecure.NewCredentials()),
					grpc.WithStatsHandler(otelgrpc.NewClientHandler()), env.Credentials)
				if err != nil {
					return nil, fmt.Errorf("dial provisioning at %s: %w", c.ProvisioningTarget, err)
				}
				context.AfterFunc(ctx, func() { conn.Close() })
				prov = conn
			} else {
				env.Logger.Warn("PROVISIONING_GRPC_TARGET is not set: lifecycle actions will only move agents' states")
			}
			svc, err := agents.New(env.Pool, env.JS, env.Logger, prov)
			if err != nil {
				return nil, err
			}
			svc.Register(srv)
			srv.Health.SetServingStatus(agents.Name, healthpb.HealthCheckResponse_SERVING)
			return []func(context.Context) error{
				svc.RunOperations,
				func(ctx context.Context) error {
					err := svc.RunRelay(ctx)
					// A last pass for what the final requests committed; the
					// rest is published at the next start.
					dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Shutdown.Timeout)
					defer cancel()
					if derr := svc.DrainOutbox(dctx); derr != nil {
						env.Logger.Warn("outbox not drained at shutdown; it will be at the next start", "error", derr)
					}
					return err
				},
			}, nil
		},
	})
}
