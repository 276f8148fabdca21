// Package authtest gives tests of a service a key, a guard and a way to call
// the service as a given role.
package authtest

import (
	"google.golang.org/grpc"

	"github.com/platformportal/portal/platform/auth"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// Key returns a fresh random key.
func Key() auth.Key { return auth.NewKey() }

// Guard returns a guard for key that accepts no API tokens.
func Guard(key auth.Key) *auth.Guard { return auth.NewGuard(key, nil) }

// User is the identity of a test user with role, named for the role
// ("operator@test.example").
func User(role authv1.Role) auth.Identity {
	name := auth.RoleName(role)
	return auth.Identity{Subject: "test-" + name, Email: name + "@test.example", Name: "Test " + name,
		Kind: auth.KindUser, Role: role, BaseRole: role}
}

// As is a dial option calling as a test user with role.
func As(key auth.Key, role authv1.Role) grpc.DialOption {
	return grpc.WithPerRPCCredentials(auth.IdentityCredentials(key, User(role)))
}
