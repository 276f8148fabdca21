// Package grpcapi serves the ProvisioningService over gRPC.
package grpcapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
	"github.com/platformportal/portal/services/provisioning/internal/driver"
	"github.com/platformportal/portal/services/provisioning/internal/provisioning"
)

// Server implements pb.ProvisioningServiceServer.
type Server struct {
	pb.UnimplementedProvisioningServiceServer
	svc *provisioning.Service
}

// NewServer returns a Server over svc.
func NewServer(svc *provisioning.Service) *Server { return &Server{svc: svc} }

// ProvisionWorkload implements pb.ProvisioningServiceServer.
func (s *Server) ProvisionWorkload(ctx context.Context, req *pb.ProvisionWorkloadRequest) (*pb.ProvisionWorkloadResponse, error) {
	w, err := s.svc.Provision(ctx, req.GetSpec())
	if err != nil {
		return nil, err
	}
	return &pb.ProvisionWorkloadResponse{Workload: w}, nil
}

// DeployWorkload implements pb.ProvisioningServiceServer.
func (s *Server) DeployWorkload(ctx context.Context, req *pb.DeployWorkloadRequest) (*pb.DeployWorkloadResponse, error) {
	w, err := s.svc.Deploy(ctx, req.GetAgentId())
	if err != nil {
		return nil, err
	}
	return &pb.DeployWorkloadResponse{Workload: w}, nil
}

// StartWorkload implements pb.ProvisioningServiceServer.
func (s *Server) StartWorkload(ctx context.Context, req *pb.StartWorkloadRequest) (*pb.StartWorkloadResponse, error) {
	w, err := s.svc.Start(ctx, req.GetAgentId(), timeout(req.GetTimeout().AsDuration()))
	if err != nil {
		return nil, err
	}
	return &pb.StartWorkloadResponse{Workload: w}, nil
}

// StopWorkload implements pb.ProvisioningServiceServer.
func (s *Server) StopWorkload(ctx context.Context, req *pb.StopWorkloadRequest) (*pb.StopWorkloadResponse, error) {
	w, err := s.svc.Stop(ctx, req.GetAgentId())
	if err != nil {
		return nil, err
	}
	return &pb.StopWorkloadResponse{Workload: w}, nil
}

// SuspendWorkload implements pb.ProvisioningServiceServer.
func (s *Server) SuspendWorkload(ctx context.Context, req *pb.SuspendWorkloadRequest) (*pb.SuspendWorkloadResponse, error) {
	w, err := s.svc.Suspend(ctx, req.GetAgentId())
	if err != nil {
		return nil, err
	}
	return &pb.SuspendWorkloadResponse{Workload: w}, nil
}

// ResumeWorkload implements pb.ProvisioningServiceServer.
func (s *Server) ResumeWorkload(ctx context.Context, req *pb.ResumeWorkloadRequest) (*pb.ResumeWorkloadResponse, error) {
	w, err := s.svc.Resume(ctx, req.GetAgentId())
	if err != nil {
		return nil, err
	}
	return &pb.ResumeWorkloadResponse{Workload: w}, nil
}

// RestartWorkload implements pb.ProvisioningServiceServer.
func (s *Server) RestartWorkload(ctx context.Context, req *pb.RestartWorkloadRequest) (*pb.RestartWorkloadResponse, error) {
	w, err := s.svc.Restart(ctx, req.GetAgentId(), timeout(req.GetTimeout().AsDuration()))
	if err != nil {
		return nil, err
	}
	return &pb.RestartWorkloadResponse{Workload: w}, nil
}

// RemoveWorkload implements pb.ProvisioningServiceServer.
func (s *Server) RemoveWorkload(ctx context.Context, req *pb.RemoveWorkloadRequest) (*pb.RemoveWorkloadResponse, error) {
	if err := s.svc.Remove(ctx, req.GetAgentId()); err != nil {
		return nil, err
	}
	return &pb.RemoveWorkloadResponse{}, nil
}

// GetWorkload implements pb.ProvisioningServiceServer.
func (s *Server) GetWorkload(ctx context.Context, req *pb.GetWorkloadRequest) (*pb.GetWorkloadResponse, error) {
	w, err := s.svc.Get(ctx, req.GetAgentId())
	if err != nil {
		return nil, err
	}
	return &pb.GetWorkloadResponse{Workload: w}, nil
}

// TailLogs implements pb.ProvisioningServiceServer.
func (s *Server) TailLogs(ctx context.Context, req *pb.TailLogsRequest) (*pb.TailLogsResponse, error) {
	lines, err := s.svc.Logs(ctx, req.GetAgentId(), driver.LogQuery{Instance: req.GetInstance(), MinLevel: req.GetMinLevel(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, err
	}
	resp := &pb.TailLogsResponse{Lines: make([]*pb.LogLine, 0, len(lines))}
	for _, l := range lines {
		resp.Lines = append(resp.Lines, LogLineToProto(req.GetAgentId(), l))
	}
	return resp, nil
}

// LogLineToProto converts a driver log line.
func LogLineToProto(agentID string, l driver.LogLine) *pb.LogLine {
	return &pb.LogLine{AgentId: agentID, Instance: l.Instance, Time: timestamppb.New(l.Time), Stream: l.Stream, Level: l.Level, Message: l.Message}
}

func timeout(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}
