package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/errs"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

var (
	viewer   = Identity{Subject: "u1", Email: "v@example.com", Kind: KindUser, Role: authv1.Role_ROLE_VIEWER, BaseRole: authv1.Role_ROLE_VIEWER}
	operator = Identity{Subject: "u2", Email: "o@example.com", Kind: KindUser, Role: authv1.Role_ROLE_OPERATOR, BaseRole: authv1.Role_ROLE_VIEWER}
)

func TestTokens(t *testing.T) {
	t.Parallel()
	key, other := NewKey(), NewKey()
	now := time.Now()
	good, err := key.Mint(viewer, now)
	if err != nil {
		t.Fatal(err)
	}
	graceEnd := viewer
	graceEnd.Until = now.Add(2 * time.Second) // a grant ending before the token would
	short, err := key.Mint(graceEnd, now)
	if err != nil {
		t.Fatal(err)
	}
	tampered := good[:len(good)-4] + "AAAA"
	tests := []struct {
		name  string
		key   Key
		tok   string
		at    time.Time
		valid bool
	}{
		{"valid", key, good, now, true},
		{"valid near the end", key, good, now.Add(TokenTTL - time.Second), true},
		{"expired", key, good, now.Add(TokenTTL + time.Second), false},
		{"other key", other, good, now, false},
		{"tampered signature", key, tampered, now, false},
		{"garbage", key, "not.a.token", now, false},
		{"capped by Until, before", key, short, now.Add(time.Second), true},
		{"capped by Until, after", key, short, now.Add(3 * time.Second), false},
		{"no key", Key{}, good, now, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.key.Verify(tc.tok, tc.at)
			if tc.valid != (err == nil) {
				t.Fatalf("Verify = %v, want valid=%v", err, tc.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v is not ErrInvalidToken", err)
			}
			if tc.valid && (id.Subject != viewer.Subject || id.Role != viewer.Role || id.Email != viewer.Email) {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, err string
	}{
		{"c2hvcnQ=", "at least 32"},
		{"%%%", "base64"},
		{"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=", ""},
	} {
		_, err := ParseKey(tc.in)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParseKey(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
	if s := NewKey().String(); s != "[redacted]" {
		t.Errorf("a key prints as %q", s)
	}
}

type fakeIntrospector struct {
	calls int
	id    Identity
}

func (f *fakeIntrospector) Introspect(_ context.Context, secret string) (Identity, time.Time, error) {
	f.calls++
	if secret != "ppt_good" {
		return Identity{}, time.Time{}, errs.E(errs.Unauthenticated, ReasonUnauthenticated, "unknown API token")
	}
	return f.id, time.Time{}, nil
}

func TestGuard(t *testing.T) {
	t.Parallel()
	key := NewKey()
	intro := &fakeIntrospector{id: Identity{Subject: "t1", Name: "ci", Kind: KindToken, Role: authv1.Role_ROLE_OPERATOR, BaseRole: authv1.Role_ROLE_OPERATOR}}
	g := NewGuard(key, intro)
	g.Declare("/test.T/Read", authv1.Role_ROLE_VIEWER)
	g.Declare("/test.T/Write", authv1.Role_ROLE_OPERATOR)
	g.Declare("/test.T/Admin", authv1.Role_ROLE_ADMIN)
	mint := func(id Identity) string {
		tok, err := key.Mint(id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	forged, _ := NewKey().Mint(operator, time.Now())
	tests := []struct {
		name   string
		method string
		md     metadata.MD
		kind   errs.Kind // 0 (Internal) means allowed
		actor  string
	}{
		{"anonymous", "/test.T/Read", nil, errs.Unauthenticated, ""},
		{"health is open", "/grpc.health.v1.Health/Check", nil, 0, actor.Anonymous},
		{"viewer reads", "/test.T/Read", metadata.Pairs(MetadataKey, mint(viewer)), 0, "v@example.com"},
		{"viewer writes", "/test.T/Write", metadata.Pairs(MetadataKey, mint(viewer)), errs.PermissionDenied, ""},
		{"granted operator writes", "/test.T/Write", metadata.Pairs(MetadataKey, mint(operator)), 0, "o@example.com"},
		{"operator administers", "/test.T/Admin", metadata.Pairs(MetadataKey, mint(operator)), errs.PermissionDenied, ""},
		{"forged token", "/test.T/Read", metadata.Pairs(MetadataKey, forged), errs.Unauthenticated, ""},
		{"undeclared method", "/test.T/Nope", metadata.Pairs(MetadataKey, mint(operator)), errs.PermissionDenied, ""},
		{"API token", "/test.T/Write", metadata.Pairs("authorization", "Bearer ppt_good"), 0, "token:ci"},
		{"bad API token", "/test.T/Read", metadata.Pairs("authorization", "Bearer ppt_bad"), errs.Unauthenticated, ""},
		{"basic auth", "/test.T/Read", metadata.Pairs("authorization", "Basic Zm9vOmJhcg=="), errs.Unauthenticated, ""},
		{"proto-declared method", "/portal.auth.v1.Nothing/X", metadata.Pairs(MetadataKey, mint(operator)), errs.PermissionDenied, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.NewIncomingContext(context.Background(), tc.md)
			got, err := g.Authorize(ctx, tc.method)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Authorize = %v, want allowed", err)
				}
				if a := actor.From(got); a != tc.actor {
					t.Fatalf("actor = %q, want %q", a, tc.actor)
				}
				return
			}
			if k := errs.KindOf(err); k != tc.kind {
				t.Fatalf("Authorize = %v (%v), want %v", err, k, tc.kind)
			}
		})
	}
	// A token verified a moment ago is remembered, but never past its expiry.
	tok := mint(viewer)
	for range 2 {
		if _, err := g.Authorize(metadata.NewIncomingContext(context.Background(), metadata.Pairs(MetadataKey, tok)), "/test.T/Read"); err != nil {
			t.Fatal(err)
		}
	}
	g.now = func() time.Time { return time.Now().Add(TokenTTL + time.Second) }
	_, err := g.Authorize(metadata.NewIncomingContext(context.Background(), metadata.Pairs(MetadataKey, tok)), "/test.T/Read")
	g.now = time.Now
	if errs.KindOf(err) != errs.Unauthenticated {
		t.Fatalf("a remembered token after its expiry: %v; want Unauthenticated", err)
	}

	before := intro.calls
	for range 3 {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer ppt_good"))
		if _, err := g.Authorize(ctx, "/test.T/Read"); err != nil {
			t.Fatal(err)
		}
	}
	if intro.calls != before {
		t.Errorf("a token introspected a moment ago was introspected again %d times", intro.calls-before)
	}
}

func TestRequiredRoleFromProto(t *testing.T) {
	t.Parallel()
	// The identity protos are linked in by introspect.go.
	r, err := RequiredRole("/portal.identity.v1.IdentityService/CreateToken")
	if err != nil || r != authv1.Role_ROLE_ADMIN {
		t.Fatalf("RequiredRole = %v, %v; want admin", r, err)
	}
	if _, err := RequiredRole("/portal.identity.v1.IdentityService/Nope"); err == nil {
		t.Fatal("an unknown method has a role")
	}
}

// BenchmarkMintAndVerify is what each API request pays for the internal
// identity: the gateway mints a token, the service verifies it.
func BenchmarkMintAndVerify(b *testing.B) {
	key := NewKey()
	now := time.Now()
	for b.Loop() {
		tok, err := key.Mint(operator, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := key.Verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
