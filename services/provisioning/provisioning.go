// Package provisioning is the service that runs agents' workloads: build it
// with New, register it on a gRPC server, and Run it beside the server.
package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/moby/moby/client"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/outbox"
	pgplatform "github.com/platformportal/portal/platform/postgres"
	pb "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
	"github.com/platformportal/portal/services/provisioning/internal/driver"
	"github.com/platformportal/portal/services/provisioning/internal/driver/docker"
	"github.com/platformportal/portal/services/provisioning/internal/driver/kubernetes"
	"github.com/platformportal/portal/services/provisioning/internal/driver/process"
	"github.com/platformportal/portal/services/provisioning/internal/grpcapi"
	"github.com/platformportal/portal/services/provisioning/internal/postgres"
	core "github.com/platformportal/portal/services/provisioning/internal/provisioning"
)

// Name is the service's name in health and telemetry.
const Name = "portal.provisioning.v1.ProvisioningService"

// Schema is the PostgreSQL schema the service owns.
const Schema = postgres.Schema

// Migrations are the service's embedded migrations.
func Migrations() fs.FS { return postgres.Migrations() }

// Migrate applies the service's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return pgplatform.Migrate(ctx, pool, Schema, Migrations(), logger)
}

// Config configures the service.
type Config struct {
	// AgentBinary is the agent program the process driver runs when a spec
	// names none; empty means "agent" beside this executable, else on PATH.
	AgentBinary string `env:"PROVISIONING_AGENT_BINARY"`
	// DataDir holds the agents' working directories.
	DataDir string `env:"PROVISIONING_DATA_DIR"`
	// PortLow and PortHigh bound the host ports handed to instances.
	PortLow  int `env:"PROVISIONING_PORT_LOW, default=20000"`
	PortHigh int `env:"PROVISIONING_PORT_HIGH, default=29999"`
	// StartTimeout bounds a start when the request gives none.
	StartTimeout time.Duration `env:"PROVISIONING_START_TIMEOUT, default=30s"`
	// AgentNATSURL is the NATS address agents are given (they are separate
	// processes, so it must be reachable over TCP).
	AgentNATSURL string `env:"PROVISIONING_AGENT_NATS_URL"`
	// DockerHost enables the docker driver, e.g. unix:///var/run/docker.sock.
	DockerHost string `env:"PROVISIONING_DOCKER_HOST"`
	// DockerImage is the agent image containers run when a spec names none.
	DockerImage string `env:"PROVISIONING_DOCKER_IMAGE, default=platformportal/agent:latest"`
	// Kubeconfig enables the kubernetes driver: a kubeconfig path, or
	// "in-cluster" for the service account of the pod this runs in.
	Kubeconfig string `env:"PROVISIONING_KUBECONFIG"`
	// KubeNamespace holds agents' Deployments and Services.
	KubeNamespace string `env:"PROVISIONING_KUBE_NAMESPACE, default=portal-agents"`
	// KubeImage is the agent image pods run when a spec names none.
	KubeImage string `env:"PROVISIONING_KUBE_IMAGE, default=platformportal/agent:latest"`
}

// Service is the provisioning service.
type Service struct {
	svc     *core.Service
	server  *grpcapi.Server
	relay   *outbox.Relay
	store   *postgres.Store
	process *process.Driver
	logs    *logPublisher
	logger  *slog.Logger
}

// New builds the service. nc carries control messages to agents; js
// receives events and log lines.
func New(pool *pgxpool.Pool, nc *nats.Conn, js jetstream.JetStream, cfg Config, logger *slog.Logger) (*Service, error) {
	if cfg.AgentNATSURL == "" {
		return nil, errors.New("provisioning: the NATS URL for agents is not set")
	}
	if cfg.PortLow < 1024 || cfg.PortHigh > 65535 || cfg.PortLow > cfg.PortHigh {
		return nil, fmt.Errorf("provisioning: bad port range %d-%d", cfg.PortLow, cfg.PortHigh)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(os.TempDir(), "portal-agents")
	}
	store, ob, err := postgres.New(pool)
	if err != nil {
		return nil, err
	}
	relay, err := outbox.NewRelay(ob, pool, js, logger, outbox.RelayOptions{})
	if err != nil {
		return nil, err
	}
	s := &Service{store: store, relay: relay, logger: logger, logs: newLogPublisher(js, logger)}
	s.process = process.New(process.Options{
		DataDir: cfg.DataDir,
		Logger:  logger,
		Control: func(ctx context.Context, agentID string, msg []byte) error {
			if err := nc.Publish("agents."+agentID+".control", msg); err != nil {
				return err
			}
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return nc.FlushWithContext(fctx)
		},
		OnInstance: func(agentID string, in driver.Instance, reason string) {
			ev := &pb.InstanceChanged{AgentId: agentID, Instance: core.InstanceToProto(in), Reason: reason}
			if err := store.PublishInstance(context.Background(), ev); err != nil {
				logger.Warn("instance event not recorded", "agent_id", agentID, "error", err)
			}
		},
		OnLog: s.logs.publish,
		OnCrashLoop: func(agentID string, f *driver.Failure) {
			s.svc.CrashLoop(context.Background(), agentID, f)
		},
	})
	binary := cfg.AgentBinary
	if binary == "" {
		binary = defaultAgentBinary()
	}
	drivers := map[pb.Driver]driver.Driver{pb.Driver_DRIVER_PROCESS: s.process}
	images := map[pb.Driver]string{pb.Driver_DRIVER_PROCESS: binary}
	if cfg.DockerHost != "" {
		cli, err := client.New(client.WithHost(cfg.DockerHost))
		if err != nil {
			return nil, fmt.Errorf("docker client for %s: %w", cfg.DockerHost, err)
		}
		drivers[pb.Driver_DRIVER_DOCKER] = docker.New(cli, docker.Options{})
		images[pb.Driver_DRIVER_DOCKER] = cfg.DockerImage
	}
	if cfg.Kubeconfig != "" {
		var rc *rest.Config
		if cfg.Kubeconfig == "in-cluster" {
			rc, err = rest.InClusterConfig()
		} else {
			rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		}
		if err != nil {
			return nil, fmt.Errorf("kubernetes config %s: %w", cfg.Kubeconfig, err)
		}
		cs, err := k8s.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
		drivers[pb.Driver_DRIVER_KUBERNETES] = kubernetes.New(cs, kubernetes.Options{Namespace: cfg.KubeNamespace})
		images[pb.Driver_DRIVER_KUBERNETES] = cfg.KubeImage
	}
	s.svc = core.New(store, drivers, core.Config{
		Images:       images,
		PortLow:      cfg.PortLow,
		PortHigh:     cfg.PortHigh,
		StartTimeout: cfg.StartTimeout,
		NATSURL:      cfg.AgentNATSURL,
	}, portFree, logger)
	s.server = grpcapi.NewServer(s.svc)
	return s, nil
}

// defaultAgentBinary is "agent" beside the running executable when there is
// one (bin/portal and bin/agent are built together), else "agent" on PATH.
func defaultAgentBinary() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "agent")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return "agent"
}

// portFree reports whether nothing listens on the loopback port now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Register adds the ProvisioningService to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	pb.RegisterProvisioningServiceServer(r, s.server)
}

// Run brings back the workloads that should run, publishes events, and on
// the end of ctx stops every agent process, so none outlives the service.
func (s *Service) Run(ctx context.Context) error {
	go s.logs.run(ctx)
	go func() {
		if err := s.svc.Reconcile(ctx); err != nil {
			s.logger.Warn("reconcile failed", "error", err)
		}
	}()
	err := s.relay.Run(ctx)
	s.process.Close()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if derr := s.relay.Drain(dctx); derr != nil {
		s.logger.Warn("provisioning outbox not drained at shutdown", "error", derr)
	}
	return err
}

// logPublisher forwards log lines to the log stream without ever blocking
// an agent's output: past its buffer, lines are dropped (and counted); the
// runtime keeps them for TailLogs either way.
type logPublisher struct {
	js      jetstream.JetStream
	lines   chan logItem
	dropped atomic.Int64
	logger  *slog.Logger
}

type logItem struct {
	agentID string
	line    driver.LogLine
}

func newLogPublisher(js jetstream.JetStream, logger *slog.Logger) *logPublisher {
	return &logPublisher{js: js, lines: make(chan logItem, 4096), logger: logger}
}

func (p *logPublisher) publish(agentID string, l driver.LogLine) {
	select {
	case p.lines <- logItem{agentID, l}:
	default:
		p.dropped.Add(1)
	}
}

func (p *logPublisher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-p.lines:
			msg := nats.NewMsg(events.LogSubjectPrefix + it.agentID)
			ll := grpcapi.LogLineToProto(it.agentID, it.line)
			data, err := proto.Marshal(ll)
			if err != nil {
				continue
			}
			msg.Data = data
			msg.Header.Set(events.HeaderType, string(proto.MessageName(ll)))
			msg.Header.Set(events.HeaderSubject, "agents/"+it.agentID)
			msg.Header.Set(events.HeaderTime, it.line.Time.Format(time.RFC3339Nano))
			msg.Header.Set(events.HeaderSource, "portal/provisioning")
			msg.Header.Set(events.HeaderInstance, it.line.Instance)
			msg.Header.Set(events.HeaderLevel, it.line.Level)
			if _, err := p.js.PublishMsgAsync(msg); err != nil {
				p.dropped.Add(1)
			}
		}
	}
}
