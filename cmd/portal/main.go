// Command portal runs the whole Platform Portal in one process, for a laptop or
// a test: the gateway and every service on one gRPC server, an embedded NATS
// server (unless NATS_URL is set), and PostgreSQL from DATABASE_URL (the
// database is created if it is missing).
//
//	portal                                  serve (migrations are applied first)
//	portal migrate                          apply migrations and exit
//	portal token create -name N -role R     create an API token and print it once
//	portal version                          print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/platformportal/portal/gateway"
	"github.com/platformportal/portal/platform/auth"
	"github.com/platformportal/portal/platform/buildinfo"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/httpserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/natsserver"
	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/postgres"
	"github.com/platformportal/portal/platform/runner"
	"github.com/platformportal/portal/platform/telemetry"
	"github.com/platformportal/portal/services/agents"
	"github.com/platformportal/portal/services/audit"
	"github.com/platformportal/portal/services/provisioning"
)

type cfg struct {
	HTTPAddr string `env:"PORTAL_HTTP_ADDR, default=:8080"`
	// Demo creates and runs a demo fleet of 14 agents at start-up.
	Demo     bool   `env:"PORTAL_DEMO"`
	GRPCAddr string `env:"PORTAL_GRPC_ADDR, default=:9090"`
	DataDir  string `env:"PORTAL_DATA_DIR, default=./data"`
	// NATSAddr is where the embedded NATS server listens (for agents and tools);
	// port 0 picks a free one.
	NATSAddr  string `env:"PORTAL_NATS_ADDR, default=127.0.0.1:4223"`
	Log       config.Log
	Postgres  config.Postgres
	NATS      config.NATS
	Telemetry config.Telemetry
	Shutdown  config.Shutdown
	Gateway   gateway.Config
	Identity  gateway.IdentityConfig
	Auth      config.Auth
	Provision provisioning.Config
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	var c cfg
	if err := config.Load(ctx, getenv, &c); err != nil {
		return err
	}
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP address: REST, /ws, health, metrics (env PORTAL_HTTP_ADDR)")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", c.GRPCAddr, "gRPC address for other platform services (env PORTAL_GRPC_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the embedded NATS server's data (env PORTAL_DATA_DIR)")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "create and run a demo fleet of 14 agents (env PORTAL_DEMO)")
	fs.Usage = func() {
		fmt.Fprintln(stdout, "usage: portal [flags] [serve|migrate|version|token create -name NAME -role ROLE [-ttl DURATION]]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd := "serve"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, buildinfo.String())
		return nil
	case "serve", "migrate", "token":
	default:
		return fmt.Errorf("unknown command %q: want serve, migrate, token or version", cmd)
	}
	level, err := c.Log.SlogLevel()
	if err != nil {
		return err
	}
	logger := logging.New(stdout, level, "portal")
	if cmd == "token" {
		logger = logging.Discard() // stdout is the secret alone, for scripts
	}

	if err := postgres.EnsureDatabase(ctx, c.Postgres.URL); err != nil {
		return err
	}
	pool, err := postgres.Connect(ctx, c.Postgres.URL, c.Postgres.MaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := agents.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	if err := provisioning.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	if err := audit.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	if err := gateway.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	switch cmd {
	case "migrate":
		logger.Info("migrations applied")
		return nil
	case "token":
		return createToken(ctx, c, pool, fs.Args()[1:], stdout)
	}
	return serve(ctx, c, pool, logger, stdout)
}

func serve(ctx context.Context, c cfg, pool *pgxpool.Pool, logger *slog.Logger, stdout io.Writer) error {
	tel, err := telemetry.Setup(ctx, c.Telemetry, "portal", buildinfo.String())
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx)) //nolint:errcheck

	nc, js, natsURL, stopNATS, err := connectNATS(ctx, c, logger)
	if err != nil {
		return err
	}
	defer stopNATS()

	// One process: a key of its own unless one is given (a split deployment
	// shares it).
	key := auth.NewKey()
	if c.Auth.InternalKey != "" {
		if key, err = auth.ParseKey(c.Auth.InternalKey); err != nil {
			return fmt.Errorf("PORTAL_INTERNAL_KEY: %w", err)
		}
	}
	ident, err := gateway.NewIdentity(ctx, c.Identity, pool, js, logger.With("component", "identity"))
	if err != nil {
		return err
	}

	glis, err := net.Listen("tcp", c.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen for gRPC on %s: %w", c.GRPCAddr, err)
	}
	defer glis.Close()
	hlis, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w", c.HTTPAddr, err)
	}
	defer hlis.Close()
	// The gateway and the services reach each other through their gRPC APIs
	// even here, so the all-in-one binary runs the same code path as a split
	// deployment.
	// Two connections: the gateway's sends each request's own identity; the
	// services' (and the demo's) carry their own.
	gport := glis.Addr().(*net.TCPAddr).Port
	dial := func(opts ...grpc.DialOption) (*grpc.ClientConn, error) {
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(gport), append([]grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 << 20)),
		}, opts...)...)
		if err != nil {
			return nil, fmt.Errorf("dial own gRPC server: %w", err)
		}
		return conn, nil
	}
	conn, err := dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	svcConn, err := dial(grpc.WithPerRPCCredentials(auth.ServiceCredentials(key, "agents")))
	if err != nil {
		return err
	}
	defer svcConn.Close()
	demoConn, err := dial(grpc.WithPerRPCCredentials(auth.ServiceCredentials(key, "demo")))
	if err != nil {
		return err
	}
	defer demoConn.Close()

	// Services.
	if c.Provision.DataDir == "" {
		c.Provision.DataDir = filepath.Join(c.DataDir, "agents")
	}
	if c.Provision.AgentNATSURL == "" {
		c.Provision.AgentNATSURL = natsURL
	}
	provSvc, err := provisioning.New(pool, nc, js, c.Provision, logger.With("component", "provisioning"))
	if err != nil {
		return err
	}
	agentSvc, err := agents.New(pool, js, logger.With("component", "agents"), svcConn)
	if err != nil {
		return err
	}
	auditSvc, err := audit.New(pool, js, logger.With("component", "audit"))
	if err != nil {
		return err
	}
	gsrv, err := grpcserver.New(logger, auth.NewGuard(key, ident.Introspector()))
	if err != nil {
		return err
	}
	agentSvc.Register(gsrv)
	provSvc.Register(gsrv)
	auditSvc.Register(gsrv)
	ident.Register(gsrv)
	for _, name := range []string{agents.Name, provisioning.Name, audit.Name, gateway.IdentityName} {
		gsrv.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}

	gw, err := gateway.New(ctx, c.Gateway, gateway.Deps{Agents: conn, Provisioning: conn, Audit: conn,
		Identity: ident, IdentityConn: conn, Key: key,
		NATS: nc, JS: js, Metrics: tel.Handler(), Logger: logger.With("component", "gateway")})
	if err != nil {
		return err
	}

	logger.Info("portal ready",
		"http_addr", hlis.Addr().String(), "grpc_addr", glis.Addr().String(), "version", buildinfo.String())

	// Shutdown runs front to back: the HTTP server drains its requests (which
	// call the gRPC server) first, then the gRPC server drains its own, then
	// the relay publishes what they committed and stops.
	g, gctx := errgroup.WithContext(ctx)
	grpcCtx, stopGRPC := context.WithCancel(context.WithoutCancel(ctx))
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopGRPC()
	defer stopRelay()
	g.Go(func() error {
		defer stopGRPC()
		return httpserver.Serve(gctx, hlis, gw.Handler(), c.Shutdown.Timeout)
	})
	g.Go(func() error {
		defer stopRelay()
		return gsrv.Serve(grpcCtx, glis, c.Shutdown.Timeout)
	})
	// Operations stop with the front door (an interrupted one resumes at the
	// next start); the agents' processes stop after the gRPC server.
	g.Go(func() error { return agentSvc.RunOperations(gctx) })
	g.Go(func() error { return provSvc.Run(relayCtx) })
	g.Go(func() error {
		<-gctx.Done() // an early failure elsewhere stops the gRPC server too
		stopGRPC()
		return nil
	})
	g.Go(func() error {
		return outbox.RunThenDrain(relayCtx, c.Shutdown.Timeout, agentSvc.RunRelay, agentSvc.DrainOutbox)
	})
	g.Go(func() error {
		return outbox.RunThenDrain(relayCtx, c.Shutdown.Timeout, ident.Run, ident.DrainOutbox)
	})
	g.Go(func() error { return auditSvc.Run(gctx) })
	g.Go(func() error { return gw.Run(gctx) })
	if c.Demo {
		health := "http://127.0.0.1:" + strconv.Itoa(hlis.Addr().(*net.TCPAddr).Port) + "/healthz"
		g.Go(func() error { runDemo(gctx, demoConn, nc, health, logger.With("component", "demo")); return nil })
	}
	err = g.Wait()
	logger.Info("portal stopped")
	return err
}

// connectNATS connects to NATS_URL, or starts an embedded server with its data
// under the data directory and connects to it in-process, and declares the
// streams. It returns the URL other processes (the agents) reach the server at.
func connectNATS(ctx context.Context, c cfg, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, string, func(), error) {
	if c.NATS.URL != "" {
		nc, js, err := runner.ConnectNATS(ctx, c.NATS, "portal", logger)
		if err != nil {
			return nil, nil, "", nil, err
		}
		return nc, js, c.NATS.URL, func() { nc.Drain() }, nil //nolint:errcheck
	}
	host, portStr, err := net.SplitHostPort(c.NATSAddr)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("PORTAL_NATS_ADDR %q: %w", c.NATSAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("PORTAL_NATS_ADDR %q: bad port", c.NATSAddr)
	}
	if port == 0 {
		port = -1 // nats-server's "pick a free port"
	}
	dir := filepath.Join(c.DataDir, "nats")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, "", nil, fmt.Errorf("data directory: %w", err)
	}
	srv, err := natsserver.Start(natsserver.Options{Host: host, Port: port, StoreDir: dir})
	if err != nil {
		return nil, nil, "", nil, err
	}
	logger.Info("embedded nats started", "url", srv.ClientURL(), "store_dir", dir)
	ncfg := c.NATS
	ncfg.URL = srv.ClientURL()
	nc, js, err := runner.ConnectNATS(ctx, ncfg, "portal", logger, nats.InProcessServer(srv))
	if err != nil {
		srv.Shutdown()
		return nil, nil, "", nil, err
	}
	return nc, js, srv.ClientURL(), func() {
		nc.Drain() //nolint:errcheck
		for nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
		srv.Shutdown()
		srv.WaitForShutdown()
	}, nil
}

// createToken is `portal token create`: the first admin token of a new
// portal (and a script's), straight into the database; the secret is printed
// once and kept only as a hash.
func createToken(ctx context.Context, c cfg, pool *pgxpool.Pool, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: portal token create -name NAME -role viewer|operator|admin [-ttl DURATION]")
	}
	fs := flag.NewFlagSet("portal token create", flag.ContinueOnError)
	fs.SetOutput(stdout)
	name := fs.String("name", "", "the token's name, e.g. deploy-bot (required)")
	roleName := fs.String("role", "", "viewer, operator or admin (required)")
	ttl := fs.Duration("ttl", 0, "how long the token lives; 0 means until revoked")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("-name is required")
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return fmt.Errorf("-role: %w", err)
	}
	ident, err := gateway.NewIdentity(ctx, c.Identity, pool, nil, logging.Discard())
	if err != nil {
		return err
	}
	secret, err := ident.CreateTokenDirect(ctx, *name, role, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}
