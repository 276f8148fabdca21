// Package auth is how an identity travels through the portal and how every
// service checks it. The gateway authenticates a request (session cookie or
// API token), then sends the services a short-lived internal token, signed
// with a key the platform's processes share, naming who the caller is and the
// role in force. Each service verifies that token in a gRPC interceptor and
// compares the role with the one the RPC declares in its proto
// (portal.auth.v1.required_role), so a call that bypasses the gateway is
// refused too.
package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// Kind is how a caller authenticated.
type Kind string

// Kinds of caller.
const (
	KindUser    Kind = "user"    // a person, through OpenID Connect
	KindDev     Kind = "dev"     // a person, through the development login
	KindToken   Kind = "token"   // an API token
	KindService Kind = "service" // a platform service calling another
)

// Identity is an authenticated caller.
type Identity struct {
	// Subject is stable: a user's id, a token's id, or a service's name.
	Subject string `json:"sub"`
	Email   string `json:"email,omitempty"`
	Name    string `json:"name,omitempty"`
	Kind    Kind   `json:"kind"`
	// Role is the role in force: BaseRole raised by any active grant.
	Role     authv1.Role `json:"role"`
	BaseRole authv1.Role `json:"base_role"`
	// SessionID is the browser session, for a person.
	SessionID string `json:"sid,omitempty"`
	// Until is when Role stops holding (a grant's or session's end, a token's
	// expiry); zero for no such limit. An internal token never outlives it.
	Until time.Time `json:"until,omitzero"`
}

// Actor names the identity in state history, events and the audit log. A
// development login is labelled as such.
func (id Identity) Actor() string {
	switch id.Kind {
	case KindUser:
		if id.Email != "" {
			return id.Email
		}
		return "user:" + id.Subject
	case KindDev:
		return "dev:" + id.Email
	case KindToken:
		return "token:" + id.Name
	case KindService:
		return "service:" + id.Subject
	}
	return "unknown:" + id.Subject
}

// Allows reports whether the identity's role includes want.
func (id Identity) Allows(want authv1.Role) bool {
	return Includes(id.Role, want)
}

// Includes reports whether role has includes want: viewer < operator < admin.
func Includes(role, want authv1.Role) bool {
	return role != authv1.Role_ROLE_UNSPECIFIED && role >= want
}

// RoleName is the short name of a role: "viewer", "operator", "admin", or
// "none".
func RoleName(r authv1.Role) string {
	switch r {
	case authv1.Role_ROLE_VIEWER:
		return "viewer"
	case authv1.Role_ROLE_OPERATOR:
		return "operator"
	case authv1.Role_ROLE_ADMIN:
		return "admin"
	}
	return "none"
}

// ParseRole reads a role's short or full name ("operator", "ROLE_OPERATOR").
func ParseRole(s string) (authv1.Role, error) {
	s = strings.ToLower(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "ROLE_"))
	switch s {
	case "viewer":
		return authv1.Role_ROLE_VIEWER, nil
	case "operator":
		return authv1.Role_ROLE_OPERATOR, nil
	case "admin":
		return authv1.Role_ROLE_ADMIN, nil
	}
	return 0, fmt.Errorf("unknown role %q: want viewer, operator or admin", s)
}

type ctxKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity in ctx, if the request was authenticated.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
