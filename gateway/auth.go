package gateway

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/platformportal/portal/gateway/internal/hub"
	"github.com/platformportal/portal/gateway/internal/identity"
	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/errs"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/outbox"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
)

type identityKey struct{}

// withIdentity keeps the request's identity and its internal token for the
// REST handlers, which send the token on to the services.
type requestIdentity struct {
	id    auth.Identity
	token string
}

// authenticated wraps the API: every request is authenticated, rate limited
// per identity, CSRF-checked when a browser writes with its cookie, and
// carries a fresh internal token to the services.
func (g *Gateway) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := g.deps.Identity.Authenticate(r)
		if err != nil {
			if !g.allow(w, r, "ip:"+clientIP(r)) {
				return
			}
			g.refuse(w, r, auth.Identity{}, err)
			return
		}
		if !g.allow(w, r, "id:"+string(id.Kind)+":"+id.Subject) {
			return
		}
		if err := g.deps.Identity.CheckCSRF(r, id); err != nil {
			g.refuse(w, r, id, err)
			return
		}
		tok, err := g.deps.Key.Mint(id, time.Now())
		if err != nil {
			g.deps.Logger.ErrorContext(r.Context(), "mint internal token", "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]any{"code": codes.Internal, "message": "internal error"})
			return
		}
		ctx := context.WithValue(r.Context(), identityKey{}, requestIdentity{id: id, token: tok})
		ctx = actor.With(ctx, id.Actor())
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestRole is the role of an authenticated request's identity.
func requestRole(r *http.Request) authv1.Role {
	ri, _ := r.Context().Value(identityKey{}).(requestIdentity)
	return ri.id.Role
}

// forwardIdentity is the REST handlers' metadata: the internal token, and
// nothing the client sent about who it is.
func forwardIdentity(ctx context.Context, _ *http.Request) metadata.MD {
	ri, ok := ctx.Value(identityKey{}).(requestIdentity)
	if !ok {
		return nil
	}
	return metadata.Pairs(auth.MetadataKey, ri.token)
}

// incomingHeaders passes no client header on as gRPC metadata: the identity
// travels only in the gateway's own token, and cookies and API tokens stay
// at the gateway (out of the services' reach and logs).
func incomingHeaders(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "x-request-id":
		return "x-request-id", true
	}
	return "", false
}

// refuse answers a request that failed authentication or authorization and
// records it as a security event. An error that is neither (the identity
// store is down) is a 503 with an error id, logged, and no denial.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, id auth.Identity, err error) {
	e, ok := errs.As(err)
	if !ok || (e.Kind != errs.Unauthenticated && e.Kind != errs.PermissionDenied) {
		eid := uuid.NewString()
		g.deps.Logger.ErrorContext(r.Context(), "authentication failed", "error_id", eid, "error", err, "path", r.URL.Path)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"code": codes.Unavailable,
			"message": fmt.Sprintf("cannot check credentials now; retry (error id %s)", eid)})
		return
	}
	code, grpcCode, msg := http.StatusUnauthorized, codes.Unauthenticated, e.Message
	if e.Kind == errs.PermissionDenied {
		code, grpcCode = http.StatusForbidden, codes.PermissionDenied
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="platform-portal"`)
	}
	g.securityEvent(r, id, code, msg)
	writeJSON(w, code, map[string]any{"code": grpcCode, "message": msg})
}

// errorHandler is grpc-gateway's, recording the services' refusals too.
func (g *Gateway) errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok && (st.Code() == codes.PermissionDenied || st.Code() == codes.Unauthenticated) {
		code := http.StatusForbidden
		if st.Code() == codes.Unauthenticated {
			code = http.StatusUnauthorized
		}
		ri, _ := ctx.Value(identityKey{}).(requestIdentity)
		g.securityEvent(r, ri.id, code, st.Message())
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// securityEvent publishes an AccessDenied for the audit log.
func (g *Gateway) securityEvent(r *http.Request, id auth.Identity, code int, reason string) {
	if g.deps.JS == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	who := actor.Anonymous
	if id.Subject != "" {
		who = id.Actor()
	}
	err := outbox.Publish(actor.With(ctx, who), g.deps.JS, outbox.Event{
		Subject:  identity.SubjectAccessDenied,
		Source:   "portal/gateway",
		Resource: "http:" + r.Method + " " + r.URL.Path,
		Time:     time.Now(),
		Outcome:  "denied",
		Payload: &identityv1.AccessDenied{Method: r.Method, Path: r.URL.Path, Status: int32(code),
			Reason: reason, RemoteAddr: clientIP(r)},
	})
	if err != nil {
		g.deps.Logger.Warn("security event not published", "error", err, "path", r.URL.Path, "status", code)
	}
}

// hubAccess authorizes a WebSocket upgrade: the client reads what its role
// may, until its session ends, its role changes (a grant runs out or is
// revoked, an admin assigns another) or its token is revoked; then the
// socket is closed and the client reconnects with what it has now.
func (g *Gateway) hubAccess(w http.ResponseWriter, r *http.Request) (hub.Access, bool) {
	id, err := g.deps.Identity.Authenticate(r)
	if err != nil {
		if !g.allow(w, r, "ip:"+clientIP(r)) {
			return hub.Access{}, false
		}
		g.refuse(w, r, auth.Identity{}, err)
		return hub.Access{}, false
	}
	a := hub.Access{Role: id.Role, Until: id.Until}
	current := func(ctx context.Context) (auth.Identity, error) {
		if id.SessionID != "" {
			return g.deps.Identity.SessionIdentity(ctx, id.SessionID)
		}
		return g.deps.Identity.Authenticate(r.Clone(ctx))
	}
	a.Active = func(ctx context.Context) bool {
		now, err := current(ctx)
		if err != nil {
			// A database hiccup does not log everyone out.
			_, known := errs.As(err)
			return !known || !(errs.Is(err, errs.Unauthenticated) || errs.Is(err, errs.PermissionDenied))
		}
		return now.Role == id.Role
	}
	return a, true
}

// restricted is the least role that may read an event on the WebSocket:
// security events (logins, denials, tokens, grants) are for admins.
func restricted(subject string) authv1.Role {
	if strings.HasPrefix(subject, events.SubjectPrefix+"identity.") {
		return authv1.Role_ROLE_ADMIN
	}
	return authv1.Role_ROLE_VIEWER
}

// limiter is a token bucket per identity (or per address, for requests
// without credentials), forgotten after a while idle.
type limiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

const (
	limiterIdle = 10 * time.Minute
	limiterMax  = 100_000 // identities tracked at most; beyond, the idle are dropped first
)

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}, swept: time.Now()}
}

// reserve takes a token for key, or says how long until one is free.
func (l *limiter) reserve(key string, now time.Time) (bool, time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= limiterMax {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > limiterIdle {
				delete(l.buckets, k)
			}
		}
		if len(l.buckets) >= limiterMax {
			clear(l.buckets) // under a flood of new keys: start over rather than grow
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{l: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	res := b.l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// allow applies the rate limit, answering 429 with Retry-After when over.
func (g *Gateway) allow(w http.ResponseWriter, r *http.Request, key string) bool {
	ok, wait := g.limiter.reserve(key, time.Now())
	if ok {
		return true
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"code": codes.ResourceExhausted,
		"message": fmt.Sprintf("rate limit of %g requests a second (burst %d) exceeded; retry in %d s", float64(g.limiter.rate), g.limiter.burst, secs)})
	return false
}

// limitByAddress rate-limits the login routes, which anyone may call, by
// the caller's address: a flood of logins cannot fill the login-state table
// or hammer the issuer.
func (g *Gateway) limitByAddress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.allow(w, r, "ip:"+clientIP(r)) {
			next.ServeHTTP(w, r)
		}
	})
}

// clientIP is the peer's address. X-Forwarded-For is not trusted: a client
// could set it to dodge its limit.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
