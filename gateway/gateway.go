// Package gateway is the portal's HTTP front door: REST over the services'
// gRPC APIs (grpc-gateway), the OpenAPI document, the /ws event stream, and
// health and metrics endpoints.
package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/platformportal/portal/gateway/internal/hub"
	"github.com/platformportal/portal/gateway/openapi"
	"github.com/platformportal/portal/gateway/ui"
	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/buildinfo"
	"github.com/platformportal/portal/platform/events"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	auditv1 "github.com/platformportal/portal/proto/gen/go/portal/audit/v1"
	identityv1 "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
	provisioningv1 "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
)

// Config tunes the gateway.
type Config struct {
	// MaxBodyBytes bounds a REST request body; larger ones get 413.
	MaxBodyBytes int64 `env:"GATEWAY_MAX_BODY_BYTES, default=1048576"`
	// WSQueueSize is how many events may wait for one WebSocket client before
	// it is disconnected as lagging.
	WSQueueSize int `env:"GATEWAY_WS_QUEUE, default=512"`
	// WSOrigins are extra origins (host patterns) allowed to open /ws.
	WSOrigins []string `env:"GATEWAY_WS_ORIGINS"`
	// RateLimit is how many API requests a second one identity (or, without
	// credentials, one address) may make on average; 0 turns limits off.
	RateLimit float64 `env:"GATEWAY_RATE_LIMIT, default=50"`
	// RateBurst is how many it may make at once.
	RateBurst int `env:"GATEWAY_RATE_BURST, default=100"`
	// UIDir serves the web UI from a directory (web/dist while working on
	// it) instead of the one embedded at build time.
	UIDir string `env:"GATEWAY_UI_DIR"`
}

// Deps are what the gateway talks to.
type Deps struct {
	// Agents is a connection to the agents service.
	Agents *grpc.ClientConn
	// Provisioning is a connection to the provisioning service (workloads,
	// logs); nil leaves those routes out.
	Provisioning *grpc.ClientConn
	NATS         *nats.Conn
	JS           jetstream.JetStream
	// Identity is the identity service: login, sessions, API tokens.
	Identity *Identity
	// IdentityConn is a connection to the identity service's gRPC API (which
	// the gateway's process serves) for its REST routes.
	IdentityConn *grpc.ClientConn
	// Audit is a connection to the audit service; nil leaves its routes out.
	Audit *grpc.ClientConn
	// Key signs the internal tokens the services trust.
	Key auth.Key
	// Metrics serves /metrics.
	Metrics http.Handler
	// UI is the built web app; nil means the one embedded at build time
	// (ui.Dist), which `go test` alone leaves empty.
	UI     fs.FS
	Logger *slog.Logger
}

var strictQueryOnce sync.Once

// Gateway serves HTTP.
type Gateway struct {
	cfg     Config
	deps    Deps
	hub     *hub.Hub
	logs    *hub.Hub
	limiter *limiter
	handler http.Handler
}

// New builds the gateway; Run its event hub and serve Handler.
func New(ctx context.Context, cfg Config, deps Deps) (*Gateway, error) {
	if deps.Identity == nil || deps.IdentityConn == nil || deps.Key.IsZero() {
		return nil, errors.New("gateway: the identity service, its connection and the internal key are required")
	}
	g := &Gateway{cfg: cfg, deps: deps, limiter: newLimiter(cfg.RateLimit, cfg.RateBurst)}
	hopts := hub.Options{QueueSize: cfg.WSQueueSize, OriginPatterns: cfg.WSOrigins, Authorize: g.hubAccess, Restricted: restricted}
	g.hub = hub.New(deps.JS, events.Stream, deps.Logger, hopts)
	g.logs = hub.New(deps.JS, events.LogStream, deps.Logger, hopts)

	// grpc-gateway keeps the query parser in a package variable: set it once.
	strictQueryOnce.Do(func() { runtime.SetQueryParameterParser(strictQuery{})(nil) })
	rest := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, bodyMarshaler{&runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}}),
		runtime.WithMetadata(forwardIdentity),
		runtime.WithIncomingHeaderMatcher(incomingHeaders),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithErrorHandler(g.errorHandler),
	)
	if err := agentsv1.RegisterAgentServiceHandler(ctx, rest, deps.Agents); err != nil {
		return nil, fmt.Errorf("register agents REST handlers: %w", err)
	}
	if deps.Provisioning != nil {
		if err := provisioningv1.RegisterProvisioningServiceHandler(ctx, rest, deps.Provisioning); err != nil {
			return nil, fmt.Errorf("register provisioning REST handlers: %w", err)
		}
	}
	if err := identityv1.RegisterIdentityServiceHandler(ctx, rest, deps.IdentityConn); err != nil {
		return nil, fmt.Errorf("register identity REST handlers: %w", err)
	}
	if deps.Audit != nil {
		if err := auditv1.RegisterAuditServiceHandler(ctx, rest, deps.Audit); err != nil {
			return nil, fmt.Errorf("register audit REST handlers: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/api/", g.authenticated(g.limitBody(rest)))
	mux.Handle("/auth/", g.limitByAddress(deps.Identity.Routes()))
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi.Document) //nolint:errcheck
	})
	mux.Handle("GET /api/v1/events:recent", g.authenticated(g.hub.RecentHandler(requestRole)))
	mux.Handle("GET /ws", g.hub)
	mux.Handle("GET /ws/logs", g.logs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", g.readyz)
	if deps.Metrics != nil {
		mux.Handle("GET /metrics", deps.Metrics)
	}
	mux.HandleFunc("GET /api/v1/{$}", g.index)
	app := deps.UI
	switch {
	case cfg.UIDir != "":
		app = os.DirFS(cfg.UIDir)
		if !ui.Built(app) {
			return nil, fmt.Errorf("GATEWAY_UI_DIR %q has no index.html: build the UI (cd web && npm run build)", cfg.UIDir)
		}
	case app == nil:
		app = ui.Dist()
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 5, "message": fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
	}
	if ui.Built(app) {
		// Every other GET is the app's: a file, or a page of its own routes.
		pages := ui.Handler(app)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				pages.ServeHTTP(w, r)
				return
			}
			notFound(w, r)
		})
	} else {
		deps.Logger.Info("the web UI is not built into this binary (make build builds it); / describes the API")
		mux.HandleFunc("GET /{$}", g.index)
		mux.HandleFunc("/", notFound)
	}
	g.handler = otelhttp.NewHandler(securityHeaders(mux), "gateway",
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/metrics" }))
	return g, nil
}

// bodyMarshaler answers a streamed google.api.HttpBody (the audit export)
// with the content type its messages carry (text/csv) instead of JSON's, and
// writes the chunks back to back: grpc-gateway's default newline after each
// chunk would cut a CSV row in two. The only streaming RPCs return HttpBody.
type bodyMarshaler struct{ *runtime.HTTPBodyMarshaler }

// Delimiter is written between streamed chunks: nothing.
func (bodyMarshaler) Delimiter() []byte { return nil }

// Handler is the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Run follows the event and log streams for WebSocket clients until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- g.logs.Run(ctx) }()
	return errors.Join(g.hub.Run(ctx), <-errc)
}

// Hub exposes the event hub's counters.
func (g *Gateway) Hub() *hub.Hub { return g.hub }

// limitBody reads a request body up to the limit before the REST handlers see
// it, so an oversized body gets a clear 413 instead of a decode error.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		limit := g.cfg.MaxBodyBytes
		if r.ContentLength > limit {
			tooLarge(w, r.ContentLength, limit)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				tooLarge(w, -1, limit)
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 3, "message": "reading request body: " + err.Error()})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, size, limit int64) {
	msg := fmt.Sprintf("request body is larger than the limit of %d bytes", limit)
	if size > 0 {
		msg = fmt.Sprintf("request body of %d bytes is larger than the limit of %d bytes", size, limit)
	}
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"code": 8, "message": msg})
}

func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	resp, err := healthpb.NewHealthClient(g.deps.Agents).Check(ctx, &healthpb.HealthCheckRequest{Service: "portal.agents.v1.AgentService"})
	switch {
	case err != nil:
		checks["agents"], ok = "unreachable: "+err.Error(), false
	case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
		checks["agents"], ok = resp.GetStatus().String(), false
	default:
		checks["agents"] = "ok"
	}
	if g.deps.Provisioning != nil {
		resp, err := healthpb.NewHealthClient(g.deps.Provisioning).Check(ctx, &healthpb.HealthCheckRequest{Service: "portal.provisioning.v1.ProvisioningService"})
		switch {
		case err != nil:
			checks["provisioning"], ok = "unreachable: "+err.Error(), false
		case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
			checks["provisioning"], ok = resp.GetStatus().String(), false
		default:
			checks["provisioning"] = "ok"
		}
	}
	if g.deps.NATS.IsConnected() {
		checks["nats"] = "ok"
	} else {
		checks["nats"], ok = "disconnected: "+g.deps.NATS.Status().String(), false
	}
	if g.hub.Ready() && g.logs.Ready() {
		checks["events"] = "ok"
	} else {
		checks["events"], ok = "not following the event and log streams", false
	}
	status, code := "ok", http.StatusOK
	if !ok {
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}

// index describes the API for someone who opens the root URL.
func (g *Gateway) index(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name":    "Platform Portal",
		"version": buildinfo.String(),
		"links": map[string]string{
			"agents":  "/api/v1/agents",
			"login":   "/auth/login",
			"me":      "/api/v1/me",
			"openapi": "/api/v1/openapi.json",
			"events":  "/ws",
			"recent":  "/api/v1/events:recent",
			"logs":    "/ws/logs",
			"healthz": "/healthz",
			"readyz":  "/readyz",
			"metrics": "/metrics",
		},
	})
}

// contentSecurityPolicy allows the portal's own scripts, styles, fonts and
// connections (REST and the WebSocket) and nothing else; no page of it may
// be framed.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: under no-referrer browsers send
		// "Origin: null" on the portal's own form posts and fetches, which
		// the origin checks must then refuse.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/auth/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) //nolint:errcheck
}
