// Package agentkit is the contract between the platform and an agent: a
// long-running worker that takes tasks from NATS, answers on HTTP for health,
// readiness and metrics, takes hot config patches and pause/resume commands,
// and drains gracefully when its context ends.
//
// An agent program supplies a Handler and calls Run; everything else (the
// environment, the HTTP server, the NATS subscriptions, the metrics and the
// misbehaviour knobs that the platform uses to rehearse failures) is here, so
// every agent program behaves the same way. README.md describes the contract.
package agentkit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is the version of the agent binary. Release builds set it with
// -ldflags "-X github.com/platformportal/portal/agentkit.Version=1.2.3".
var Version = "dev"

// Task is one unit of work taken from NATS.
type Task struct {
	// ID identifies the task in its result; generated when the sender gave none.
	ID string `json:"id"`
	// Type selects what the handler does, e.g. "remember".
	Type string `json:"type"`
	// Input is the task's JSON input as sent; nil when absent.
	Input json.RawMessage `json:"input,omitempty"`
}

// Config is a snapshot of the agent's effective configuration: AGENT_CONFIG
// with the control patches applied since start. A Handler gets a snapshot
// that is never changed afterwards, so it must not modify it either.
type Config map[string]any

// Handler does the work of one task. Its context ends when the task must be
// abandoned (the drain timeout passed). A non-nil error makes the result
// ok=false with the error's text; output, when not nil, is still sent so a
// handler can report partial progress alongside the error.
type Handler func(ctx context.Context, t Task, cfg Config) (output any, err error)

// Options for Run. Handler is required; the rest have defaults.
type Options struct {
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// Stdout receives the JSON log lines; os.Stdout when nil.
	Stdout io.Writer
	// Handler does the work of each task.
	Handler Handler
	// ValidateConfig, when set, checks the agent program's own config keys,
	// both in AGENT_CONFIG at start and in every control patch; a patch it
	// rejects is refused and changes nothing.
	ValidateConfig func(Config) error
	// Registry receives the agent's metrics and is served on /metrics; a new
	// registry when nil, so agents never share the global one.
	Registry *prometheus.Registry
	// Exit ends the process for the crash_after knob; os.Exit when nil.
	// Tests inject their own to observe the crash.
	Exit func(code int)
}

// Result is published for every task: as the reply when the task message
// had a reply subject, and always on ResultsSubject.
type Result struct {
	TaskID string `json:"taskId"`
	Type   string `json:"type,omitempty"`
	OK     bool   `json:"ok"`
	// Output is the handler's output; absent when the handler returned none
	// with an error.
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	AgentID    string          `json:"agentId"`
	Instance   string          `json:"instance"`
	DurationMs float64         `json:"durationMs"`
}

// Control is a message on ControlSubject. Every field is optional; an empty
// message just reports the current state.
type Control struct {
	// Instance, when set, addresses one replica: the others ignore the
	// message and do not reply.
	Instance string `json:"instance,omitempty"`
	// Config is merged into the effective config; a key set to null is
	// removed.
	Config map[string]any `json:"config,omitempty"`
	// Pause stops (true) or resumes (false) taking tasks.
	Pause *bool `json:"pause,omitempty"`
}

// ControlReply answers a Control message that had a reply subject. Config
// and Paused are the replica's state after the message, so a refused message
// shows the unchanged state.
type ControlReply struct {
	OK       bool   `json:"ok"`
	Config   Config `json:"config"`
	Paused   bool   `json:"paused"`
	Instance string `json:"instance"`
	Error    string `json:"error,omitempty"`
}

// TasksSubject is where the agent's replicas take tasks, as one queue group
// (QueueGroup).
func TasksSubject(agentID string) string { return "agents." + agentID + ".tasks" }

// QueueGroup is the queue group the replicas of an agent share.
func QueueGroup(agentID string) string { return "agents." + agentID }

// ResultsSubject is where every task result is published.
func ResultsSubject(agentID string) string { return "agents." + agentID + ".results" }

// ControlSubject is where every replica listens for Control messages.
func ControlSubject(agentID string) string { return "agents." + agentID + ".control" }

// Run runs the agent until ctx ends, then drains: it stops taking tasks,
// waits for the ones in flight up to AGENT_DRAIN_TIMEOUT, closes NATS and the
// HTTP server, and returns nil. It returns an error when the environment is
// invalid or the agent cannot start.
func Run(ctx context.Context, opts Options) error {
	if opts.Handler == nil {
		return errors.New("agentkit: Options.Handler is required")
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Exit == nil {
		opts.Exit = os.Exit
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	s, err := loadSettings(opts.Getenv, opts.ValidateConfig)
	if err != nil {
		return err
	}
	a, err := newAgent(s, opts)
	if err != nil {
		return err
	}
	return a.run(ctx)
}
