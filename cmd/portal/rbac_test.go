package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/pgtest"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// caller is one of the identities the matrix calls every RPC as.
type caller struct {
	name  string
	role  authv1.Role // ROLE_UNSPECIFIED: anonymous
	token string
}

// TestEveryRPCEnforcesItsRole calls every RPC of every service the portal
// serves as anonymous, viewer, operator and admin, straight over gRPC and
// through REST, and checks each answer against the role the RPC declares:
// no credentials are 401/Unauthenticated, too small a role 403/PermissionDenied,
// and enough of one gets past authorization (to validation, not found, or
// success). Requests are empty: authorization comes before validation, so a
// caller without the role learns nothing about the request's shape.
func TestEveryRPCEnforcesItsRole(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	p := startPortal(t, db, t.TempDir(), map[string]string{"PORTAL_INTERNAL_KEY": base64.StdEncoding.EncodeToString([]byte("the matrix test's internal key, 32+ bytes"))})
	getenv := func(k string) string { return map[string]string{"DATABASE_URL": db}[k] }
	callers := []caller{
		{name: "anonymous"},
		{name: "viewer", role: authv1.Role_ROLE_VIEWER, token: newToken(t, getenv, "matrix-viewer", "viewer")},
		{name: "operator", role: authv1.Role_ROLE_OPERATOR, token: newToken(t, getenv, "matrix-operator", "operator")},
		{name: "admin", role: authv1.Role_ROLE_ADMIN, token: p.admin},
	}
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	services := map[string]int{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "portal.") {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				services[string(sd.FullName())]++
				want := proto.GetExtension(md.Options(), authv1.E_RequiredRole).(authv1.Role)
				for _, c := range callers {
					t.Run(fmt.Sprintf("grpc/%s/%s", md.Name(), c.name), func(t *testing.T) {
						checkCode(t, invoke(conn, md, c.token), c.role, want)
					})
					if rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule); ok && rule != nil {
						t.Run(fmt.Sprintf("rest/%s/%s", md.Name(), c.name), func(t *testing.T) {
							checkHTTP(t, p.base, md, rule, c, want)
						})
					}
				}
			}
		}
		return true
	})
	for _, s := range []string{"portal.agents.v1.AgentService", "portal.provisioning.v1.ProvisioningService",
		"portal.audit.v1.AuditService", "portal.identity.v1.IdentityService"} {
		if services[s] == 0 {
			t.Errorf("service %s was not in the matrix", s)
		}
	}

	// An identity signed with another key is refused, even for admin.
	forged, err := auth.NewKey().Mint(auth.Identity{Subject: "mallory", Kind: auth.KindService, Role: authv1.Role_ROLE_ADMIN}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), auth.MetadataKey, forged)
	_, err = agentsv1.NewAgentServiceClient(conn).ListAgents(ctx, &agentsv1.ListAgentsRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("a forged internal identity: %v; want Unauthenticated", err)
	}
}

func invoke(conn *grpc.ClientConn, md protoreflect.MethodDescriptor, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	method := fmt.Sprintf("/%s/%s", md.Parent().FullName(), md.Name())
	in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		return err
	}
	out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return err
	}
	req, resp := in.New().Interface(), out.New().Interface()
	if !md.IsStreamingServer() && !md.IsStreamingClient() {
		return conn.Invoke(ctx, method, req, resp)
	}
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: md.IsStreamingServer(), ClientStreams: md.IsStreamingClient()}, method)
	if err != nil {
		return err
	}
	if err := s.SendMsg(req); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(resp)
}

func checkCode(t *testing.T, err error, role, want authv1.Role) {
	t.Helper()
	code := status.Code(err)
	switch {
	case role == authv1.Role_ROLE_UNSPECIFIED:
		if code != codes.Unauthenticated {
			t.Errorf("anonymous: %v; want Unauthenticated", err)
		}
	case !auth.Includes(role, want):
		if code != codes.PermissionDenied {
			t.Errorf("%s (needs %s): %v; want PermissionDenied", auth.RoleName(role), auth.RoleName(want), err)
		}
	default:
		if code == codes.Unauthenticated || code == codes.PermissionDenied || code == codes.Unimplemented || code == codes.Internal {
			t.Errorf("%s (needs %s): %v; want past authorization", auth.RoleName(role), auth.RoleName(want), err)
		}
	}
}

var templateVar = regexp.MustCompile(`\{([a-z_.]+)(=[^}]*)?\}`)

// restRequest turns an RPC's HTTP rule into a request path with a
// placeholder of the right type for each variable.
func restRequest(md protoreflect.MethodDescriptor, rule *annotations.HttpRule) (string, string) {
	var method, path string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, path = http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		method, path = http.MethodPost, p.Post
	case *annotations.HttpRule_Patch:
		method, path = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Put:
		method, path = http.MethodPut, p.Put
	case *annotations.HttpRule_Delete:
		method, path = http.MethodDelete, p.Delete
	}
	path = templateVar.ReplaceAllStringFunc(path, func(v string) string {
		name := templateVar.FindStringSubmatch(v)[1]
		msg := md.Input()
		var fd protoreflect.FieldDescriptor
		for _, part := range strings.Split(name, ".") {
			fd = msg.Fields().ByName(protoreflect.Name(part))
			if fd == nil {
				return "x"
			}
			msg = fd.Message()
		}
		switch fd.Kind() {
		case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind:
			return "1"
		}
		return "00000000-0000-4000-8000-000000000000"
	})
	return method, path
}

func checkHTTP(t *testing.T, base string, md protoreflect.MethodDescriptor, rule *annotations.HttpRule, c caller, want authv1.Role) {
	t.Helper()
	method, path := restRequest(md, rule)
	var body *strings.Reader
	if rule.GetBody() != "" {
		body = strings.NewReader("{}")
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else {
		req.Header.Set("X-Test-Anonymous", "1")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := resp.StatusCode
	switch {
	case c.role == authv1.Role_ROLE_UNSPECIFIED:
		if got != http.StatusUnauthorized {
			t.Errorf("%s %s anonymous: HTTP %d; want 401", method, path, got)
		}
	case !auth.Includes(c.role, want):
		if got != http.StatusForbidden {
			t.Errorf("%s %s as %s (needs %s): HTTP %d; want 403", method, path, c.name, auth.RoleName(want), got)
		}
	default:
		if got == http.StatusUnauthorized || got == http.StatusForbidden || got == http.StatusNotImplemented || got >= 500 {
			t.Errorf("%s %s as %s (needs %s): HTTP %d; want past authorization", method, path, c.name, auth.RoleName(want), got)
		}
	}
}
