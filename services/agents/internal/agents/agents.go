// Package agents holds the agent registry's domain: the Agent, its lifecycle
// state machine, the rules for changing it, and the Store it is kept in.
package agents

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// State is where an agent stands in its lifecycle.
type State string

// The lifecycle states.
const (
	Draft       State = "DRAFT"
	Provisioned State = "PROVISIONED"
	Deployed    State = "DEPLOYED"
	Running     State = "RUNNING"
	Stopped     State = "STOPPED"
	Suspended   State = "SUSPENDED"
	Errored     State = "ERRORED"
	Revoked     State = "REVOKED"
)

// States lists every state, in lifecycle order.
var States = []State{Draft, Provisioned, Deployed, Running, Stopped, Suspended, Errored, Revoked}

// Action is something that moves an agent between states.
type Action string

// The operator actions, and the two the platform itself records.
const (
	Provision Action = "provision"
	Deploy    Action = "deploy"
	Start     Action = "start"
	Stop      Action = "stop"
	Suspend   Action = "suspend"
	Resume    Action = "resume"
	Restart   Action = "restart"
	Revoke    Action = "revoke"

	// Fail records a failure reported by the platform (-> ERRORED).
	Fail Action = "fail"
	// Create is the first entry of every history (-> DRAFT).
	Create Action = "create"
)

// Actions lists the eight operator actions.
var Actions = []Action{Provision, Deploy, Start, Stop, Suspend, Resume, Restart, Revoke}

// Kind is the template an agent was made from.
type Kind string

// The template kinds.
const (
	KindMemory        Kind = "memory"
	KindOrchestration Kind = "orchestration"
	KindAPI           Kind = "api"
	KindData          Kind = "data"
	KindMonitoring    Kind = "monitoring"
	KindBlank         Kind = "blank"
)

// Tier is how much the business depends on an agent.
type Tier string

// The tiers.
const (
	TierDevelopment Tier = "development"
	TierStandard    Tier = "standard"
	TierCritical    Tier = "critical"
)

// Agent is a long-running worker managed by the portal.
type Agent struct {
	ID          uuid.UUID
	Name        string
	DisplayName string
	Description string
	Kind        Kind
	Tier        Tier
	Version     string
	Config      map[string]any
	Labels      map[string]string
	Owner       string
	Creator     string
	State       State
	StateReason string
	// Revision counts the agent's changes; its decimal form is the etag.
	Revision   int64
	CreateTime time.Time
	UpdateTime time.Time
	Runtime    RuntimeSpec
	// Error explains the last failure; nil once an action succeeds again.
	Error *Failure
	// PendingOperation is the id of the operation in progress, "" when none.
	PendingOperation string
	// PreviousConfig is the config before its last change, for rolling back.
	PreviousConfig map[string]any
}

// RuntimeSpec is how an agent's workload runs.
type RuntimeSpec struct {
	Driver      string `json:"driver,omitempty"`
	Replicas    int    `json:"replicas,omitempty"`
	Image       string `json:"image,omitempty"`
	CPUMillis   int64  `json:"cpuMillis,omitempty"`
	MemoryBytes int64  `json:"memoryBytes,omitempty"`
}

// Failure explains why an agent failed and what to do about it.
type Failure struct {
	Class         string            `json:"class"`
	Code          string            `json:"code"`
	Message       string            `json:"message"`
	ProbableCause string            `json:"probableCause"`
	Suggestions   []Suggestion      `json:"suggestions"`
	Details       map[string]string `json:"details,omitempty"`
	Time          time.Time         `json:"time"`
	Action        Action            `json:"action"`
}

// Suggestion is something to do about a failure.
type Suggestion struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Action is the lifecycle action it runs, "" for one that only looks.
	Action Action `json:"action,omitempty"`
	// Link is a REST path to read more.
	Link string `json:"link,omitempty"`
	// RollbackConfig restores the previous config before Action.
	RollbackConfig bool `json:"rollbackConfig,omitempty"`
}

// OperationStatus is where an operation stands.
type OperationStatus string

// Operation statuses.
const (
	OperationRunning   OperationStatus = "RUNNING"
	OperationSucceeded OperationStatus = "SUCCEEDED"
	OperationFailed    OperationStatus = "FAILED"
)

// Operation is a lifecycle action being carried out by the runtime.
type Operation struct {
	ID         string
	AgentID    uuid.UUID
	Action     Action
	Status     OperationStatus
	Actor      string
	Reason     string
	From       State
	Target     State
	Error      *Failure
	CreateTime time.Time
	DoneTime   time.Time
}

// RuntimeError is a classified failure reported by the runtime.
type RuntimeError struct {
	Class   string
	Code    string
	Message string
	Details map[string]string
}

func (e *RuntimeError) Error() string { return e.Message }

// Runtime does the work behind lifecycle actions (the provisioning service).
type Runtime interface {
	// Apply carries out action for a, returning when it is done (for start:
	// when the agent is ready). A *RuntimeError explains a known failure.
	Apply(ctx context.Context, a *Agent, action Action) error
}

// ETag is the agent's current etag.
func (a *Agent) ETag() string { return strconv.FormatInt(a.Revision, 10) }

// Transition is one entry of an agent's state history.
type Transition struct {
	AgentID uuid.UUID
	// Sequence is 1 for the creation, then consecutive per agent.
	Sequence int64
	From     State
	To       State
	Action   Action
	Actor    string
	Reason   string
	Time     time.Time
	Metadata map[string]string
}

// Filter selects agents for List.
type Filter struct {
	States []State
	Kinds  []Kind
	// Labels must all be present with these values.
	Labels map[string]string
	// Query matches name, display name or description, case-insensitively.
	Query string
}

// Order is a List ordering.
type Order struct {
	Field string // "create_time", "update_time" or "name"
	Desc  bool
}

// Cursor is where a List page starts: after the agent with this key and id.
type Cursor struct {
	Key string
	ID  uuid.UUID
}

// Page is one page of List.
type Page struct {
	Agents []*Agent
	// Next is nil on the last page.
	Next  *Cursor
	Total int
}

// Change is what a Mutate callback did to an agent.
type Change struct {
	// Transition, when set, is recorded in the history (its Sequence is set by the store).
	Transition *Transition
	// Fields names the fields an update changed.
	Fields []string
	// Delete removes the agent.
	Delete bool
	// Operation, when set, is created or updated (by its ID).
	Operation *Operation
}

// Store keeps agents, their history and their events, changing all three in
// one transaction.
type Store interface {
	// Create inserts a, with its creation transition. AlreadyExists when the
	// name is taken.
	Create(ctx context.Context, a *Agent, t *Transition) error
	// Get returns one agent. NotFound when there is none.
	Get(ctx context.Context, id uuid.UUID) (*Agent, error)
	// List returns a page of agents matching f in order o after c.
	List(ctx context.Context, f Filter, o Order, after *Cursor, limit int) (*Page, error)
	// Mutate locks the agent, calls fn with it, and writes fn's changes (the
	// agent, a transition, or its deletion) with their event. fn's error is
	// returned as is; NotFound when there is no agent.
	Mutate(ctx context.Context, id uuid.UUID, fn func(a *Agent) (*Change, error)) (*Agent, *Transition, error)
	// History returns up to limit transitions of an agent after sequence.
	// NotFound when the agent does not exist.
	History(ctx context.Context, id uuid.UUID, after int64, limit int) ([]*Transition, error)
	// GetOperation returns an operation. NotFound when there is none.
	GetOperation(ctx context.Context, id string) (*Operation, error)
	// RunningOperations lists operations still in progress, oldest first.
	RunningOperations(ctx context.Context) ([]*Operation, error)
	BulkStore
}
