package auth

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

// IdentityClient introspects API tokens through the identity service's gRPC
// API; conn must carry the calling service's credentials.
type IdentityClient struct {
	c identityv1.IdentityServiceClient
}

// NewIdentityClient returns an Introspector over conn.
func NewIdentityClient(conn grpc.ClientConnInterface) *IdentityClient {
	return &IdentityClient{c: identityv1.NewIdentityServiceClient(conn)}
}

// Introspect implements Introspector.
func (c *IdentityClient) Introspect(ctx context.Context, secret string) (Identity, time.Time, error) {
	resp, err := c.c.IntrospectToken(ctx, &identityv1.IntrospectTokenRequest{Secret: secret})
	if err != nil {
		return Identity{}, time.Time{}, fmt.Errorf("introspect API token: %w", err)
	}
	var until time.Time
	if resp.GetValidUntil() != nil {
		until = resp.GetValidUntil().AsTime()
	}
	return FromPrincipal(resp.GetPrincipal(), until), until, nil
}

var kinds = map[identityv1.PrincipalKind]Kind{
	identityv1.PrincipalKind_PRINCIPAL_KIND_USER:    KindUser,
	identityv1.PrincipalKind_PRINCIPAL_KIND_DEV:     KindDev,
	identityv1.PrincipalKind_PRINCIPAL_KIND_TOKEN:   KindToken,
	identityv1.PrincipalKind_PRINCIPAL_KIND_SERVICE: KindService,
}

// FromPrincipal converts the API's principal.
func FromPrincipal(p *identityv1.Principal, until time.Time) Identity {
	return Identity{Subject: p.GetSubject(), Email: p.GetEmail(), Name: p.GetName(), Kind: kinds[p.GetKind()],
		Role: p.GetRole(), BaseRole: p.GetBaseRole(), Until: until}
}

// ToPrincipal converts an identity for the API.
func ToPrincipal(id Identity) *identityv1.Principal {
	var k identityv1.PrincipalKind
	for pk, kk := range kinds {
		if kk == id.Kind {
			k = pk
		}
	}
	return &identityv1.Principal{Subject: id.Subject, Email: id.Email, Name: id.Name, Kind: k,
		Role: id.Role, BaseRole: id.BaseRole, DevLogin: id.Kind == KindDev, Actor: id.Actor()}
}
