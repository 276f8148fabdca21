// Command provisioning runs the provisioning service on its own, for
// deployments that scale each service separately. `provisioning migrate`
// applies its migrations and exits; `provisioning` serves gRPC and /metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/runner"
	"github.com/platformportal/portal/services/provisioning"
)

type cfg struct {
	GRPCAddr    string `env:"PROVISIONING_GRPC_ADDR, default=:9092"`
	MetricsAddr string `env:"PROVISIONING_METRICS_ADDR, default=:9465"`
	Service     provisioning.Config
	runner.Common
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
	var c cfg
	if err := config.Load(ctx, getenv, &c); err != nil {
		return err
	}
	if c.Service.AgentNATSURL == "" {
		c.Service.AgentNATSURL = c.NATS.URL
	}
	return runner.Main(ctx, args, stdout, c.Common, c.GRPCAddr, c.MetricsAddr, runner.Service{
		Name:    "provisioning",
		Migrate: provisioning.Migrate,
		Build: func(ctx context.Context, env *runner.Env, srv *grpcserver.Server) ([]func(context.Context) error, error) {
			svc, err := provisioning.New(env.Pool, env.NATS, env.JS, c.Service, env.Logger)
			if err != nil {
				return nil, err
			}
			svc.Register(srv)
			srv.Health.SetServingStatus(provisioning.Name, healthpb.HealthCheckResponse_SERVING)
			return []func(context.Context) error{svc.Run}, nil
		},
	})
}
