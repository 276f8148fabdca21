// Package driver is the one interface every runtime implements: local
// processes (the default), Docker containers and Kubernetes workloads. The
// provisioning service drives a workload through it and never knows which
// runtime it talks to.
package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Workload is what a driver runs for one agent: its replicas and how.
type Workload struct {
	// AgentID is the agent's UUID; it keys every resource the driver makes.
	AgentID string
	// Name is the agent's DNS-label name, used in resource names.
	Name    string
	Kind    string
	Version string
	// Replicas is how many instances run (at least 1).
	Replicas int
	// Image is the container image (docker, kubernetes) or the path of the
	// agent binary (process).
	Image string
	// Args are extra command-line arguments.
	Args []string
	// Env is added to the agent contract's variables (see Contract).
	Env map[string]string
	// Config is the agent's configuration, passed as AGENT_CONFIG (JSON).
	Config map[string]any
	// Resources are per instance.
	Resources Resources
	// Ports are the host ports allocated to the instances, one per replica
	// (process and docker drivers publish each instance's HTTP port there).
	Ports []int
	// Labels are the agent's labels, copied onto the resources.
	Labels map[string]string
	// NATSURL is where the agent takes tasks from.
	NATSURL string
}

// Resources are per-instance limits. Zero means "no limit".
type Resources struct {
	// CPUMillis is CPU in thousandths of a core.
	CPUMillis int64
	// MemoryBytes is the memory limit.
	MemoryBytes int64
}

// Contract is the environment every agent instance gets (agentkit reads it).
const (
	EnvAgentID    = "AGENT_ID"
	EnvAgentName  = "AGENT_NAME"
	EnvAgentKind  = "AGENT_KIND"
	EnvVersion    = "AGENT_VERSION"
	EnvInstance   = "AGENT_INSTANCE"
	EnvAddr       = "AGENT_ADDR" // host:port the agent's HTTP server listens on
	EnvNATSURL    = "NATS_URL"
	EnvConfig     = "AGENT_CONFIG" // JSON object
	ContainerPort = 8080           // the HTTP port inside a container or pod
)

// InstanceState is where one replica stands.
type InstanceState string

// Instance states.
const (
	InstanceStarting     InstanceState = "starting"
	InstanceReady        InstanceState = "ready"
	InstanceUnready      InstanceState = "unready"
	InstanceRestarting   InstanceState = "restarting"
	InstanceCrashLooping InstanceState = "crash_looping"
	InstanceStopped      InstanceState = "stopped"
	InstancePaused       InstanceState = "paused"
)

// Instance is one replica as the driver sees it.
type Instance struct {
	// ID is stable per replica slot: "0", "1", ...
	ID    string
	State InstanceState
	// PID (process driver), container id (docker) or pod name (kubernetes).
	Handle    string
	Addr      string
	Restarts  int
	StartedAt time.Time
	// LastExit describes the last exit, e.g. "exit status 2" or "signal: killed".
	LastExit string
}

// LogLine is one line an instance wrote.
type LogLine struct {
	Time     time.Time
	Instance string
	Stream   string // "stdout" or "stderr"
	// Level is parsed from JSON log lines ("debug", "info", "warn", "error"),
	// "info" for stdout and "error" for stderr otherwise.
	Level   string
	Message string
}

// LogQuery filters Logs.
type LogQuery struct {
	// Instance, when set, selects one replica.
	Instance string
	// MinLevel drops lines below it ("debug" < "info" < "warn" < "error").
	MinLevel string
	// Limit is the most lines returned (the newest); 0 means 200.
	Limit int
}

// Driver runs workloads on one runtime. Every method is idempotent: calling it
// again after a crash or a retry converges on the same result.
type Driver interface {
	// Name is "process", "docker" or "kubernetes".
	Name() string
	// Deploy creates the workload's resources without running it.
	Deploy(ctx context.Context, w *Workload) error
	// Start runs every replica and returns once all are ready, or with an
	// error (a *Failure where the cause is known) when ctx ends first.
	Start(ctx context.Context, w *Workload) error
	// Stop stops the replicas gracefully; Deploy's resources remain.
	Stop(ctx context.Context, w *Workload) error
	// Suspend stops the workload taking work but keeps it warm (a paused
	// process or container); Kubernetes scales it to zero. Resume undoes it.
	Suspend(ctx context.Context, w *Workload) error
	Resume(ctx context.Context, w *Workload) error
	// Restart replaces the replicas one at a time, each ready before the next.
	Restart(ctx context.Context, w *Workload) error
	// Remove deletes everything the workload has.
	Remove(ctx context.Context, w *Workload) error
	// Instances reports the replicas.
	Instances(ctx context.Context, w *Workload) ([]Instance, error)
	// Logs returns recent lines, oldest first.
	Logs(ctx context.Context, w *Workload, q LogQuery) ([]LogLine, error)
}

// Class says what kind of failure it is, so that operators (and automation)
// know whether to retry, fix configuration or look elsewhere.
type Class string

// Failure classes.
const (
	// Transient: retrying later may work (a crash, a timeout, a busy engine).
	Transient Class = "transient"
	// Permanent: retrying the same thing will fail the same way.
	Permanent Class = "permanent"
	// Configuration: the agent's settings are wrong (missing binary, bad limits).
	Configuration Class = "configuration"
	// Dependency: something the agent needs is down (engine, cluster, NATS).
	Dependency Class = "dependency"
)

// Failure codes drivers report; the provisioning service explains each.
const (
	CodeBinaryNotFound    = "BINARY_NOT_FOUND"
	CodeImageNotFound     = "IMAGE_NOT_FOUND"
	CodePortInUse         = "PORT_IN_USE"
	CodeInvalidLimits     = "INVALID_LIMITS"
	CodeCrashLoop         = "CRASH_LOOP"
	CodeNotReady          = "NOT_READY"
	CodeRuntimeDown       = "RUNTIME_UNAVAILABLE"
	CodeExitedOnStart     = "EXITED_ON_START"
	CodeNotDeployed       = "NOT_DEPLOYED"
	CodeRuntimeRejected   = "RUNTIME_REJECTED"
	CodeRolloutIncomplete = "ROLLOUT_INCOMPLETE"
)

// Failure is a classified driver error.
type Failure struct {
	Class Class
	Code  string
	// Message is for operators: what happened, in one sentence.
	Message string
	// Details are facts for the explanation (port, path, exit code, ...).
	Details map[string]string
	Err     error
}

func (f *Failure) Error() string {
	if f.Err != nil {
		return fmt.Sprintf("%s: %v", f.Message, f.Err)
	}
	return f.Message
}

func (f *Failure) Unwrap() error { return f.Err }

// Fail builds a Failure.
func Fail(class Class, code string, err error, format string, args ...any) *Failure {
	return &Failure{Class: class, Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// With returns f with one more detail.
func (f *Failure) With(key, value string) *Failure {
	if f.Details == nil {
		f.Details = map[string]string{}
	}
	f.Details[key] = value
	return f
}

// AsFailure finds a *Failure in err's chain.
func AsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}

// LevelOf is the level of a log line: the "level" of a JSON line (as slog
// and zap write it) normalised to debug, info, warn or error; otherwise info
// on stdout (or a merged stream, stream "") and error on stderr.
func LevelOf(text, stream string) string {
	if strings.HasPrefix(text, "{") {
		var l struct {
			Level any `json:"level"`
		}
		if json.Unmarshal([]byte(text), &l) == nil {
			if s, ok := l.Level.(string); ok && s != "" {
				switch s = strings.ToLower(s); s {
				case "warning":
					return "warn"
				case "fatal", "panic", "critical", "dpanic":
					return "error"
				default:
					return s
				}
			}
		}
	}
	if stream == "stderr" {
		return "error"
	}
	return "info"
}

// DefaultLogLimit is how many lines Logs returns when the query says none.
const DefaultLogLimit = 200

// LimitOrDefault is the query's line limit, or the default.
func (q LogQuery) LimitOrDefault() int {
	if q.Limit <= 0 {
		return DefaultLogLimit
	}
	return q.Limit
}

// SelectLogs applies a query's level and limit to lines gathered from the
// instances: it drops lines below MinLevel, orders the rest by time (stably,
// so a stream keeps its order) and keeps the newest.
func SelectLogs(lines []LogLine, q LogQuery) []LogLine {
	if q.MinLevel != "" {
		minRank := LevelRank(q.MinLevel)
		lines = slices.DeleteFunc(lines, func(l LogLine) bool { return LevelRank(l.Level) < minRank })
	}
	slices.SortStableFunc(lines, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	if limit := q.LimitOrDefault(); len(lines) > limit {
		lines = lines[len(lines)-limit:]
	}
	return lines
}

// LevelRank orders log levels; unknown levels rank as info.
func LevelRank(level string) int {
	switch level {
	case "debug":
		return 0
	case "warn", "warning":
		return 2
	case "error", "fatal", "panic":
		return 3
	default:
		return 1
	}
}
