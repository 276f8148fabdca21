// Command audit runs the audit log service on its own, for deployments that
// scale each service separately. `audit migrate` applies its migrations and
// exits (run it as a job before rolling out); `audit` records the platform's
// events and serves gRPC and /metrics.
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
	"github.com/platformportal/portal/services/audit"
)

type cfg struct {
	GRPCAddr    string `env:"AUDIT_GRPC_ADDR, default=:9094"`
	MetricsAddr string `env:"AUDIT_METRICS_ADDR, default=:9194"`
	runner.Common
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var c cfg
	if err := config.Load(ctx, getenv, &c); err != nil {
		return err
	}
	return runner.Main(ctx, args, stdout, c.Common, c.GRPCAddr, c.MetricsAddr, runner.Service{
		Name:    "audit",
		Migrate: audit.Migrate,
		Build: func(ctx context.Context, env *runner.Env, srv *grpcserver.Server) ([]func(context.Context) error, error) {
			svc, err := audit.New(env.Pool, env.JS, env.Logger)
			if err != nil {
				return nil, err
			}
			svc.Register(srv)
			srv.Health.SetServingStatus(audit.Name, healthpb.HealthCheckResponse_SERVING)
			return []func(context.Context) error{svc.Run}, nil
		},
	})
}
