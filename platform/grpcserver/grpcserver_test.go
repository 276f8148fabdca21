package grpcserver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/platformportal/portal/platform/auth/authtest"
	"github.com/platformportal/portal/platform/errs"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// failures maps a request string to what the handler does.
var failures = map[string]error{
	"not-found":    errs.E(errs.NotFound, "THING_NOT_FOUND", "thing 7 not found"),
	"conflict":     errs.E(errs.Conflict, "ETAG_MISMATCH", "stale etag").With("current_etag", "9"),
	"precondition": errs.E(errs.FailedPrecondition, "ILLEGAL_TRANSITION", "cannot start"),
	"invalid":      errs.InvalidField("thing.name", "is too long"),
	"wrapped":      fmt.Errorf("start thing: %w", errs.E(errs.AlreadyExists, "TAKEN", "name taken")),
	"internal":     fmt.Errorf("query things: %w", fmt.Errorf("connection reset by peer (password=hunter2)")),
	"canceled":     context.Canceled,
}

func startServer(t *testing.T) (*grpc.ClientConn, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	key := authtest.Key()
	guard := authtest.Guard(key)
	guard.Declare("/test.Things/Do", authv1.Role_ROLE_VIEWER)
	srv, err := New(slog.New(slog.NewJSONHandler(logs, nil)), guard)
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "test.Things",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Do",
			Handler: func(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				in := new(wrapperspb.StringValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, req any) (any, error) {
					v := req.(*wrapperspb.StringValue).GetValue()
					if v == "panic" {
						panic("boom")
					}
					if err, ok := failures[v]; ok {
						return nil, err
					}
					return wrapperspb.String("ok"), nil
				}
				return ic(ctx, in, &grpc.UnaryServerInfo{FullMethod: "/test.Things/Do"}, h)
			},
		}},
	}, struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, lis, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		authtest.As(key, authv1.Role_ROLE_VIEWER))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, logs
}

func do(conn *grpc.ClientConn, v string) error {
	return conn.Invoke(context.Background(), "/test.Things/Do", wrapperspb.String(v), new(wrapperspb.StringValue))
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	conn, _ := startServer(t)
	tests := []struct {
		in     string
		code   codes.Code
		reason string
		msg    string
	}{
		{"ok", codes.OK, "", ""},
		{"not-found", codes.NotFound, "THING_NOT_FOUND", "thing 7 not found"},
		{"conflict", codes.Aborted, "ETAG_MISMATCH", "stale etag"},
		{"precondition", codes.FailedPrecondition, "ILLEGAL_TRANSITION", "cannot start"},
		{"invalid", codes.InvalidArgument, "INVALID_ARGUMENT", "thing.name: is too long"},
		{"wrapped", codes.AlreadyExists, "TAKEN", "name taken"},
		{"canceled", codes.Canceled, "", "request canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			st := status.Convert(do(conn, tc.in))
			if st.Code() != tc.code || st.Message() != tc.msg {
				t.Fatalf("Do(%s) = %s %q; want %s %q", tc.in, st.Code(), st.Message(), tc.code, tc.msg)
			}
			var info *errdetails.ErrorInfo
			var bad *errdetails.BadRequest
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					info = d
				case *errdetails.BadRequest:
					bad = d
				}
			}
			if tc.reason != "" && (info == nil || info.GetReason() != tc.reason || info.GetDomain() != ErrorDomain) {
				t.Errorf("ErrorInfo = %v; want reason %s", info, tc.reason)
			}
			if tc.in == "conflict" && info.GetMetadata()["current_etag"] != "9" {
				t.Errorf("metadata = %v; want current_etag", info.GetMetadata())
			}
			if tc.in == "invalid" && (bad == nil || bad.GetFieldViolations()[0].GetField() != "thing.name") {
				t.Errorf("BadRequest = %v; want field thing.name", bad)
			}
		})
	}
}

// TestInternalErrorsAreMasked: the caller gets an error id, never the cause;
// the log has both, once.
func TestInternalErrorsAreMasked(t *testing.T) {
	t.Parallel()
	conn, logs := startServer(t)
	for _, in := range []string{"internal", "panic"} {
		st := status.Convert(do(conn, in))
		if st.Code() != codes.Internal || strings.Contains(st.Message(), "hunter2") || strings.Contains(st.Message(), "boom") {
			t.Fatalf("Do(%s) = %s %q; want Internal without the cause", in, st.Code(), st.Message())
		}
		id := strings.TrimSuffix(strings.TrimPrefix(st.Message(), "internal error (error id "), ")")
		if len(id) != 36 {
			t.Fatalf("message %q carries no error id", st.Message())
		}
		if n := strings.Count(logs.String(), id); n != 1 {
			t.Errorf("error id %s logged %d times; want once", id, n)
		}
	}
	if !strings.Contains(logs.String(), "connection reset by peer") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("log lacks the causes: %s", logs.String())
	}
	// The server survived the panic.
	if err := do(conn, "ok"); err != nil {
		t.Errorf("after panic: %v", err)
	}
}

func TestHealthAndShutdown(t *testing.T) {
	t.Parallel()
	conn, _ := startServer(t)
	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v; want SERVING", resp, err)
	}
}

// TestValidationNamesTheFields: protovalidate's refusal also carries the
// standard BadRequest, one violation per broken rule, by its field path.
func TestValidationNamesTheFields(t *testing.T) {
	t.Parallel()
	path := func(names ...string) *validate.FieldPath {
		p := &validate.FieldPath{}
		for _, n := range names {
			p.Elements = append(p.Elements, &validate.FieldPathElement{FieldName: proto.String(n)})
		}
		return p
	}
	st, err := status.New(codes.InvalidArgument, "validation error: ...").WithDetails(&validate.Violations{Violations: []*validate.Violation{
		{Field: path("agent", "name"), RuleId: proto.String("string.pattern"), Message: proto.String("value does not match regex pattern")},
		{Field: path("agent", "version"), RuleId: proto.String("string.max_len"), Message: proto.String("value length must be at most 64 characters")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var bad *errdetails.BadRequest
	for _, d := range withFieldViolations(st).Details() {
		if b, ok := d.(*errdetails.BadRequest); ok {
			bad = b
		}
	}
	want := []string{"agent.name: value does not match regex pattern (string.pattern)", "agent.version: value length must be at most 64 characters (string.max_len)"}
	var got []string
	for _, v := range bad.GetFieldViolations() {
		got = append(got, fmt.Sprintf("%s: %s (%s)", v.GetField(), v.GetDescription(), v.GetReason()))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("field violations %q; want %q", got, want)
	}
	other := status.New(codes.NotFound, "gone")
	if withFieldViolations(other) != other {
		t.Error("a status that is not a validation failure changed")
	}
}
