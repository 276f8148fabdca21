// Package runtime carries out lifecycle actions through the provisioning
// service's gRPC API, and turns its classified errors into the domain's.
package runtime

import (
	"context"
	"fmt"
	"maps"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
	"github.com/platformportal/portal/services/agents/internal/agents"
)

// Provisioning is agents.Runtime over the provisioning service.
type Provisioning struct {
	client pb.ProvisioningServiceClient
}

var _ agents.Runtime = (*Provisioning)(nil)

// New returns a runtime calling client.
func New(client pb.ProvisioningServiceClient) *Provisioning { return &Provisioning{client: client} }

var drivers = map[string]pb.Driver{"": pb.Driver_DRIVER_PROCESS, "process": pb.Driver_DRIVER_PROCESS,
	"docker": pb.Driver_DRIVER_DOCKER, "kubernetes": pb.Driver_DRIVER_KUBERNETES}

// Spec is the workload spec of an agent.
func Spec(a *agents.Agent) (*pb.WorkloadSpec, error) {
	cfg, err := structpb.NewStruct(a.Config)
	if err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	return &pb.WorkloadSpec{
		AgentId: a.ID.String(), Name: a.Name, Kind: string(a.Kind), Version: a.Version,
		Driver: drivers[a.Runtime.Driver], Replicas: int32(a.Runtime.Replicas), Image: a.Runtime.Image,
		Resources: &pb.Resources{CpuMillis: a.Runtime.CPUMillis, MemoryBytes: a.Runtime.MemoryBytes},
		Config:    cfg, Labels: maps.Clone(a.Labels),
	}, nil
}

// Apply implements agents.Runtime.
func (p *Provisioning) Apply(ctx context.Context, a *agents.Agent, action agents.Action) error {
	id := a.ID.String()
	var err error
	switch action {
	case agents.Provision, agents.Deploy:
		// Deploy provisions again first, so settings changed since provision apply.
		var spec *pb.WorkloadSpec
		if spec, err = Spec(a); err != nil {
			return err
		}
		if _, err = p.client.ProvisionWorkload(ctx, &pb.ProvisionWorkloadRequest{Spec: spec}); err == nil && action == agents.Deploy {
			_, err = p.client.DeployWorkload(ctx, &pb.DeployWorkloadRequest{AgentId: id})
		}
	case agents.Start:
		_, err = p.client.StartWorkload(ctx, &pb.StartWorkloadRequest{AgentId: id})
	case agents.Stop:
		_, err = p.client.StopWorkload(ctx, &pb.StopWorkloadRequest{AgentId: id})
	case agents.Suspend:
		_, err = p.client.SuspendWorkload(ctx, &pb.SuspendWorkloadRequest{AgentId: id})
	case agents.Resume:
		_, err = p.client.ResumeWorkload(ctx, &pb.ResumeWorkloadRequest{AgentId: id})
	case agents.Restart:
		_, err = p.client.RestartWorkload(ctx, &pb.RestartWorkloadRequest{AgentId: id})
	case agents.Revoke:
		_, err = p.client.RemoveWorkload(ctx, &pb.RemoveWorkloadRequest{AgentId: id})
	default:
		return fmt.Errorf("no runtime work for %s", action)
	}
	return classify(err)
}

// classify reads the provisioning service's error: its ErrorInfo reason is
// the failure code and its metadata the class and details.
func classify(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	re := &agents.RuntimeError{Message: st.Message(), Details: map[string]string{}}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			re.Code = info.GetReason()
			for k, v := range info.GetMetadata() {
				if k == "class" {
					re.Class = v
				} else {
					re.Details[k] = v
				}
			}
		}
	}
	if re.Code == "" || re.Class == "" {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded:
			re.Class, re.Code = "dependency", "RUNTIME_UNAVAILABLE"
		case codes.InvalidArgument, codes.FailedPrecondition:
			re.Class, re.Code = "configuration", "RUNTIME_REJECTED"
		default:
			re.Class, re.Code = "transient", "RUNTIME_ERROR"
		}
	}
	return re
}
