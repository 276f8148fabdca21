// Package config reads a service's configuration from the environment into a
// struct, with defaults and validation, through an injected getenv so tests and
// main share one code path. It uses sethvargo/go-envconfig (from the authors of
// exposure-notifications-server) for the struct tags.
package config

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Load fills target (a pointer to a struct with `env` tags) from getenv.
func Load(ctx context.Context, getenv func(string) string, target any) error {
	err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   target,
		Lookuper: lookuper(getenv),
	})
	if err != nil {
		// envconfig names the struct path ("Shutdown: Timeout: ..."); say which
		// variable that is, since that is what the operator set.
		msg := err.Error()
		for path, key := range envKeys(reflect.TypeOf(target), "") {
			if strings.HasPrefix(msg, path+": ") {
				return fmt.Errorf("read configuration: %s: %s", key, strings.TrimPrefix(msg, path+": "))
			}
		}
		return fmt.Errorf("read configuration: %w", err)
	}
	return nil
}

// envKeys maps the struct paths envconfig reports to their variables.
func envKeys(t reflect.Type, prefix string) map[string]string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]string{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		path := f.Name
		if prefix != "" {
			path = prefix + ": " + f.Name
		}
		if tag, ok := f.Tag.Lookup("env"); ok {
			key, _, _ := strings.Cut(tag, ",")
			out[path] = key
			continue
		}
		for k, v := range envKeys(f.Type, path) {
			out[k] = v
		}
	}
	return out
}

type lookuper func(string) string

func (l lookuper) Lookup(key string) (string, bool) {
	v := l(key)
	return v, v != ""
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `env:"LOG_LEVEL, default=info"`
}

// SlogLevel parses Level.
func (l Log) SlogLevel() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(l.Level))); err != nil {
		return 0, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", l.Level)
	}
	return lv, nil
}

// Auth configures how a process trusts the others of its portal.
type Auth struct {
	// InternalKey signs and verifies the short-lived identity tokens the
	// gateway and the services send each other: base64, at least 32 bytes,
	// the same in every process of one portal (openssl rand -base64 32). The
	// all-in-one binary makes one up when it is empty.
	InternalKey string `env:"PORTAL_INTERNAL_KEY"`
	// IdentityTarget is the gRPC address of the identity service (the
	// gateway), which a service asks about API tokens presented to it
	// directly; empty means the service accepts calls through the gateway
	// only.
	IdentityTarget string `env:"PORTAL_IDENTITY_GRPC_TARGET"`
}

// Postgres configures the database connection.
type Postgres struct {
	// URL is a libpq connection URL or DSN. The database is created if missing
	// when the binary is allowed to (the all-in-one portal).
	URL string `env:"DATABASE_URL, default=postgres://127.0.0.1:5432/portal?sslmode=disable"`
	// MaxConns caps the pool; 0 means pgx's default (max(4, CPUs)).
	MaxConns int32 `env:"DATABASE_MAX_CONNS, default=20"`
}

// NATS configures the connection to NATS.
type NATS struct {
	// URL of the NATS server. Empty in the all-in-one binary means "run one
	// embedded"; the standalone services require it.
	URL string `env:"NATS_URL"`
	// StreamMaxAge is how long the event stream keeps events (and so how far back
	// a reconnecting WebSocket client can resume).
	StreamMaxAge time.Duration `env:"PORTAL_EVENTS_MAX_AGE, default=168h"`
	// DuplicateWindow is how long JetStream remembers message ids to drop
	// re-published outbox events.
	DuplicateWindow time.Duration `env:"PORTAL_EVENTS_DUPLICATE_WINDOW, default=10m"`
}

// Telemetry configures OpenTelemetry.
type Telemetry struct {
	// OTLPEndpoint, when set, sends traces over OTLP/gRPC (host:port).
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// SampleRatio is the share of new traces recorded.
	SampleRatio float64 `env:"OTEL_TRACES_SAMPLER_ARG, default=1"`
}

// Shutdown configures graceful shutdown.
type Shutdown struct {
	// Timeout bounds the graceful part of shutdown before connections are cut.
	Timeout time.Duration `env:"PORTAL_SHUTDOWN_TIMEOUT, default=15s"`
}
