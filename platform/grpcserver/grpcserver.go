// Package grpcserver builds the gRPC server every service runs on: OpenTelemetry
// stats, one interceptor that maps errors to status codes, panic recovery,
// authentication and authorization (platform/auth), protovalidate request
// validation, the health protocol, reflection, and a
// graceful shutdown under a deadline.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	protovalidatemw "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/errs"
)

// MaxMessageBytes bounds a request message; larger ones get ResourceExhausted.
const MaxMessageBytes = 2 << 20

// ErrorDomain is the google.rpc.ErrorInfo domain of the portal's errors.
const ErrorDomain = "platformportal.dev"

// Server is a gRPC server with health and reflection registered.
type Server struct {
	*grpc.Server
	Health *health.Server
	logger *slog.Logger
}

// New returns a server; register services on it, then Serve. Every RPC but
// health and reflection goes through guard, before its request is validated,
// so a caller without the role learns nothing from validation errors.
func New(logger *slog.Logger, guard *auth.Guard, extra ...grpc.ServerOption) (*Server, error) {
	if guard == nil {
		return nil, errors.New("grpcserver: a guard is required: every RPC is authorized")
	}
	v, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("protovalidate: %w", err)
	}
	s := &Server{Health: health.NewServer(), logger: logger}
	opts := append([]grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(
			s.unaryErrors,
			s.unaryRecover,
			guard.Unary(),
			protovalidatemw.UnaryServerInterceptor(v),
		),
		grpc.ChainStreamInterceptor(
			s.streamErrors,
			s.streamRecover,
			guard.Stream(),
			protovalidatemw.StreamServerInterceptor(v),
		),
	}, extra...)
	s.Server = grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s.Server, s.Health)
	reflection.Register(s.Server)
	return s, nil
}

// Serve serves on lis until ctx ends, then shuts down: health goes NOT_SERVING
// so load balancers stop sending, in-flight RPCs get until timeout to finish,
// and whatever is left is cut.
func (s *Server) Serve(ctx context.Context, lis net.Listener, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	done := make(chan struct{})
	go func() { s.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		s.logger.Warn("grpc graceful stop timed out; closing connections", "timeout", timeout)
		s.Stop()
	}
	return nil
}

func (s *Server) unaryErrors(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		return nil, s.ToStatus(ctx, info.FullMethod, err)
	}
	return resp, nil
}

func (s *Server) streamErrors(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := handler(srv, ss); err != nil {
		return s.ToStatus(ss.Context(), info.FullMethod, err)
	}
	return nil
}

var errPanic = errors.New("panic")

func (s *Server) unaryRecover(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w in %s: %v\n%s", errPanic, info.FullMethod, p, debug.Stack())
		}
	}()
	return handler(ctx, req)
}

func (s *Server) streamRecover(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w in %s: %v\n%s", errPanic, info.FullMethod, p, debug.Stack())
		}
	}()
	return handler(srv, ss)
}

var kindCodes = map[errs.Kind]codes.Code{
	errs.Internal:           codes.Internal,
	errs.NotFound:           codes.NotFound,
	errs.AlreadyExists:      codes.AlreadyExists,
	errs.Invalid:            codes.InvalidArgument,
	errs.Conflict:           codes.Aborted,
	errs.FailedPrecondition: codes.FailedPrecondition,
	errs.PermissionDenied:   codes.PermissionDenied,
	errs.Unauthenticated:    codes.Unauthenticated,
	errs.Unavailable:        codes.Unavailable,
	errs.ResourceExhausted:  codes.ResourceExhausted,
}

// ToStatus maps err to a gRPC status error, once: classified errors keep
// their message and get an ErrorInfo (and a BadRequest for a bad field);
// anything else becomes Internal with an error id, logged here with the full
// error so the caller's id leads to it.
func (s *Server) ToStatus(ctx context.Context, method string, err error) error {
	if st, ok := status.FromError(err); ok {
		return withFieldViolations(st).Err() // already a status, e.g. from the validation interceptor
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	e, ok := errs.As(err)
	if !ok || e.Kind == errs.Internal {
		id := uuid.NewString()
		s.logger.ErrorContext(ctx, "internal error", "method", method, "error_id", id, "error", err)
		return status.Errorf(codes.Internal, "internal error (error id %s)", id)
	}
	st := status.New(kindCodes[e.Kind], e.Message)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: e.Reason, Domain: ErrorDomain, Metadata: e.Metadata}}
	if e.Field != "" {
		details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: e.Field, Description: e.Message, Reason: e.Reason},
		}})
	}
	if withDetails, derr := st.WithDetails(details...); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// withFieldViolations adds to a validation failure (protovalidate's
// buf.validate.Violations detail) the standard google.rpc.BadRequest with one
// field violation per rule broken, named by its dotted path ("agent.name"),
// which every client, the web UI's forms among them, already reads.
func withFieldViolations(st *status.Status) *status.Status {
	if st.Code() != codes.InvalidArgument {
		return st
	}
	var fv []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			return st // already there
		case *validate.Violations:
			for _, v := range d.GetViolations() {
				fv = append(fv, &errdetails.BadRequest_FieldViolation{
					Field: protovalidate.FieldPathString(v.GetField()), Description: v.GetMessage(), Reason: v.GetRuleId()})
			}
		}
	}
	if len(fv) == 0 {
		return st
	}
	if withBR, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: fv}); err == nil {
		return withBR
	}
	return st
}
