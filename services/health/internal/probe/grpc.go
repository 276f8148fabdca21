package probe

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// probeGRPC dials per probe, like Kubernetes: a cached channel would hide a
// server that stopped accepting new connections.
func probeGRPC(ctx context.Context, a *GRPCAction) (string, error) {
	conn, err := grpc.NewClient(a.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", fmt.Errorf("grpc client: %w", err)
	}
	defer func() { _ = conn.Close() }()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: a.Service})
	if err != nil {
		// The status message can be long (it embeds dial errors); the code and
		// a truncated message are enough to act on.
		st := status.Convert(err)
		return "", fmt.Errorf("grpc health check: %s: %s", st.Code(), st.Message())
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return "", fmt.Errorf("grpc health: %s", s)
	}
	return "SERVING", nil
}
