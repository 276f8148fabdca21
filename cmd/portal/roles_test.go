package main

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	auditv1 "github.com/platformportal/portal/proto/gen/go/portal/audit/v1"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
	provisioningv1 "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
)

// TestEveryRPCDeclaresARole fails for any RPC of the portal's services that
// does not say which role it needs (the portal.auth.v1.required_role method
// option), so that none can be added without one.
func TestEveryRPCDeclaresARole(t *testing.T) {
	t.Parallel()
	// The services the portal serves; importing their packages registers them.
	want := map[protoreflect.FullName]bool{
		protoreflect.FullName(agentsv1.AgentService_ServiceDesc.ServiceName):              false,
		protoreflect.FullName(provisioningv1.ProvisioningService_ServiceDesc.ServiceName): false,
		protoreflect.FullName(auditv1.AuditService_ServiceDesc.ServiceName):               false,
		protoreflect.FullName(identityv1.IdentityService_ServiceDesc.ServiceName):         false,
	}
	methods := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "portal.") {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			want[sd.FullName()] = true
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				methods++
				role := proto.GetExtension(md.Options(), authv1.E_RequiredRole).(authv1.Role)
				if role == authv1.Role_ROLE_UNSPECIFIED {
					t.Errorf("%s declares no required_role", md.FullName())
				}
			}
		}
		return true
	})
	for name, seen := range want {
		if !seen {
			t.Errorf("service %s not found in the registry", name)
		}
	}
	if methods < 45 {
		t.Errorf("checked %d methods; the portal has at least 45", methods)
	}
}
