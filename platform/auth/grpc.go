package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/errs"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// MetadataKey is the gRPC metadata key of the internal token.
const MetadataKey = "x-portal-identity"

// Reasons of the ErrorInfo of refused calls.
const (
	ReasonUnauthenticated = "UNAUTHENTICATED"
	ReasonRoleRequired    = "ROLE_REQUIRED"
	ReasonNoRoleDeclared  = "NO_ROLE_DECLARED"
)

// Introspector resolves an API token a client presents directly over gRPC
// (the identity service does; see portal.identity.v1.IntrospectToken).
type Introspector interface {
	Introspect(ctx context.Context, secret string) (id Identity, validUntil time.Time, err error)
}

// infrastructure RPCs anyone may call: health checks come from load
// balancers and kubelets, and reflection only describes the public protos.
var infrastructure = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// Guard authenticates and authorizes every RPC a service serves.
type Guard struct {
	key        Key
	introspect Introspector
	now        func() time.Time

	introspected tokenCache             // API tokens seen lately
	verified     tokenCache             // internal tokens verified lately
	declared     map[string]authv1.Role // roles of methods outside the protos
}

// tokenCache remembers the identities of tokens, by their hash, until a
// time; bounded, it drops what has expired and then, if still full, all.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	id    Identity
	until time.Time
}

const tokenCacheMax = 10000

func (c *tokenCache) get(tok string, now time.Time) (Identity, [32]byte, bool) {
	h := sha256.Sum256([]byte(tok))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	return e.id, h, ok && now.Before(e.until)
}

func (c *tokenCache) put(h [32]byte, id Identity, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[32]byte]cachedToken{}
	}
	if len(c.m) >= tokenCacheMax {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= tokenCacheMax {
			clear(c.m)
		}
	}
	c.m[h] = cachedToken{id: id, until: until}
}

// introspectCacheTTL bounds how long a service trusts an API token it has
// introspected: a revoked token stops working here within this time.
const introspectCacheTTL = 5 * time.Second

// NewGuard returns a guard verifying internal tokens with key and, when intro
// is not nil, API tokens through it.
func NewGuard(key Key, intro Introspector) *Guard {
	return &Guard{key: key, introspect: intro, now: time.Now, declared: map[string]authv1.Role{}}
}

// Declare gives a method that has no proto declaration (a hand-written
// service, a test's) the role it needs. Call it before serving.
func (g *Guard) Declare(method string, role authv1.Role) {
	g.declared[method] = role
}

// Unary is the guard as a unary server interceptor.
func (g *Guard) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.Authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream is the guard as a stream server interceptor.
func (g *Guard) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.Authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
	}
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

// Authorize checks the caller of method (a gRPC full method name) against
// the role the method declares, and returns ctx with the identity and actor.
func (g *Guard) Authorize(ctx context.Context, method string) (context.Context, error) {
	for _, p := range infrastructure {
		if strings.HasPrefix(method, p) {
			return ctx, nil
		}
	}
	want, ok := g.declared[method]
	var err error
	if !ok {
		want, err = RequiredRole(method)
	}
	if err != nil {
		return nil, errs.E(errs.PermissionDenied, ReasonNoRoleDeclared, "%s declares no required role, so nobody may call it", method)
	}
	id, err := g.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if !id.Allows(want) {
		return nil, errs.E(errs.PermissionDenied, ReasonRoleRequired, "%s needs the %s role; %s has %s",
			shortMethod(method), RoleName(want), id.Actor(), RoleName(id.Role)).
			With("required_role", RoleName(want)).With("role", RoleName(id.Role))
	}
	return actor.With(WithIdentity(ctx, id), id.Actor()), nil
}

func (g *Guard) authenticate(ctx context.Context) (Identity, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(MetadataKey); len(v) > 0 {
		return g.verify(v[0])
	}
	if v := md.Get("authorization"); len(v) > 0 {
		scheme, secret, _ := strings.Cut(v[0], " ")
		if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(secret) == "" {
			return Identity{}, errs.E(errs.Unauthenticated, ReasonUnauthenticated, "the authorization metadata must be \"Bearer <API token>\"")
		}
		return g.introspectToken(ctx, strings.TrimSpace(secret))
	}
	return Identity{}, errs.E(errs.Unauthenticated, ReasonUnauthenticated,
		"no credentials: send an API token as \"authorization: Bearer <token>\" metadata")
}

// verify checks an internal token, remembering it until it expires: a
// service's own credentials send the same token for half a minute, and a
// check of the signature costs more than the hash that finds it again.
func (g *Guard) verify(tok string) (Identity, error) {
	now := g.now()
	id, h, ok := g.verified.get(tok, now)
	if ok {
		return id, nil
	}
	id, exp, err := g.key.verify(tok, now)
	if err != nil {
		return Identity{}, errs.E(errs.Unauthenticated, ReasonUnauthenticated, "the internal identity token was refused: %v", errors.Unwrap(err))
	}
	g.verified.put(h, id, exp, now)
	return id, nil
}

func (g *Guard) introspectToken(ctx context.Context, secret string) (Identity, error) {
	if g.introspect == nil {
		return Identity{}, errs.E(errs.Unauthenticated, ReasonUnauthenticated,
			"this service does not accept API tokens directly (it has no identity service to check them with); call it through the gateway")
	}
	now := g.now()
	id, h, ok := g.introspected.get(secret, now)
	if ok {
		return id, nil
	}
	id, until, err := g.introspect.Introspect(ctx, secret)
	if err != nil {
		return Identity{}, err
	}
	limit := now.Add(introspectCacheTTL)
	if until.IsZero() || until.After(limit) {
		until = limit
	}
	g.introspected.put(h, id, until, now)
	return id, nil
}

var roles sync.Map // full method -> authv1.Role

// RequiredRole returns the role a method (a gRPC full method name,
// "/pkg.Service/Method") declares in its proto.
func RequiredRole(method string) (authv1.Role, error) {
	if r, ok := roles.Load(method); ok {
		return r.(authv1.Role), nil
	}
	name := strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return 0, fmt.Errorf("method %s: %w", method, err)
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return 0, fmt.Errorf("%s is not a method", method)
	}
	r, _ := proto.GetExtension(md.Options(), authv1.E_RequiredRole).(authv1.Role)
	if r == authv1.Role_ROLE_UNSPECIFIED {
		return 0, fmt.Errorf("method %s declares no required role", method)
	}
	roles.Store(method, r)
	return r, nil
}

func shortMethod(m string) string {
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		return m[i+1:]
	}
	return m
}

// Credentials attach an internal token for a fixed identity to every call: a
// service calling another uses them with its own service identity.
type Credentials struct {
	key Key
	id  Identity

	mu    sync.Mutex
	tok   string
	fresh time.Time
}

// ServiceCredentials are the credentials of a platform service: an admin
// identity named for the service.
func ServiceCredentials(key Key, service string) *Credentials {
	return &Credentials{key: key, id: Identity{Subject: service, Kind: KindService, Name: service,
		Role: authv1.Role_ROLE_ADMIN, BaseRole: authv1.Role_ROLE_ADMIN}}
}

// IdentityCredentials are credentials for any identity (tests, tools).
func IdentityCredentials(key Key, id Identity) *Credentials {
	return &Credentials{key: key, id: id}
}

// GetRequestMetadata implements credentials.PerRPCCredentials, minting a
// token at most every half of its life.
func (c *Credentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.tok == "" || now.Sub(c.fresh) > TokenTTL/2 {
		tok, err := c.key.Mint(c.id, now)
		if err != nil {
			return nil, err
		}
		c.tok, c.fresh = tok, now
	}
	return map[string]string{MetadataKey: c.tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: the
// services talk on a private network or loopback, often without TLS.
func (c *Credentials) RequireTransportSecurity() bool { return false }
