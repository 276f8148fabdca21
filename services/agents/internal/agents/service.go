package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/errs"
)

// MaxConfigBytes bounds an agent's configuration, as JSON.
const MaxConfigBytes = 64 << 10

// UpdatableFields are the fields UpdateAgent may change.
var UpdatableFields = []string{"display_name", "description", "tier", "version", "config", "labels", "owner", "runtime",
	"runtime.driver", "runtime.replicas", "runtime.image", "runtime.cpu_millis", "runtime.memory_bytes"}

// Service applies the registry's rules on top of a Store.
type Service struct {
	store   Store
	runtime Runtime
	now     func() time.Time
	logger  *slog.Logger

	// bg is the context operations run in: the service's lifetime, not the
	// request's, since an action outlives the call that started it.
	bg  context.Context
	ops sync.WaitGroup
	// done has a channel per awaited operation, closed when this process
	// finishes it; waiters also poll, for operations finished elsewhere.
	done sync.Map // operation id -> chan struct{}
}

// NewService returns a Service over store. With a nil runtime, actions only
// move the state (a registry without a runtime, as in tests of the rules);
// with one, each action is an operation the runtime carries out.
func NewService(store Store, runtime Runtime, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Microseconds: what PostgreSQL keeps, so a value read back equals the one written.
	return &Service{store: store, runtime: runtime, logger: logger, bg: context.Background(),
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// Create registers a in the DRAFT state.
func (s *Service) Create(ctx context.Context, a *Agent) (*Agent, error) {
	if a.Tier == "" {
		a.Tier = TierStandard
	}
	if a.DisplayName == "" {
		a.DisplayName = a.Name
	}
	if a.Config == nil {
		a.Config = map[string]any{}
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if err := checkConfig(a.Config); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new agent id: %w", err)
	}
	now := s.now()
	a.ID, a.State, a.StateReason, a.Revision = id, Draft, "", 1
	a.Creator = actor.From(ctx)
	a.CreateTime, a.UpdateTime = now, now
	t := &Transition{AgentID: id, Sequence: 1, To: Draft, Action: Create, Actor: a.Creator, Time: now}
	if err := s.store.Create(ctx, a, t); err != nil {
		return nil, fmt.Errorf("create agent %s: %w", a.Name, err)
	}
	return a, nil
}

// Get returns one agent.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Agent, error) {
	a, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// List returns a page of agents.
func (s *Service) List(ctx context.Context, f Filter, o Order, after *Cursor, limit int) (*Page, error) {
	p, err := s.store.List(ctx, f, o, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return p, nil
}

// Update changes fields of agent id to their values in patch. A non-empty
// etag must be the agent's current one.
func (s *Service) Update(ctx context.Context, id uuid.UUID, etag string, patch *Agent, fields []string) (*Agent, error) {
	if len(fields) == 0 {
		return nil, errs.InvalidField("update_mask", "names no field; updatable: %s", strings.Join(UpdatableFields, ", "))
	}
	for _, f := range fields {
		if !slices.Contains(UpdatableFields, f) {
			return nil, errs.InvalidField("update_mask", "%q cannot be updated; updatable: %s", f, strings.Join(UpdatableFields, ", "))
		}
	}
	if slices.Contains(fields, "config") {
		if err := checkConfig(patch.Config); err != nil {
			return nil, err
		}
	}
	a, _, err := s.store.Mutate(ctx, id, func(a *Agent) (*Change, error) {
		if err := checkETag(a, etag); err != nil {
			return nil, err
		}
		if IsFinal(a.State) {
			return nil, errs.E(errs.FailedPrecondition, "AGENT_REVOKED", "agent %s is %s and can no longer change", a.Name, a.State).
				With("current_state", string(a.State))
		}
		for _, f := range fields {
			switch f {
			case "display_name":
				a.DisplayName = patch.DisplayName
				if a.DisplayName == "" {
					a.DisplayName = a.Name
				}
			case "description":
				a.Description = patch.Description
			case "tier":
				a.Tier = patch.Tier
				if a.Tier == "" {
					a.Tier = TierStandard
				}
			case "version":
				a.Version = patch.Version
			case "config":
				a.PreviousConfig = a.Config
				a.Config = maps.Clone(patch.Config)
				if a.Config == nil {
					a.Config = map[string]any{}
				}
			case "runtime":
				a.Runtime = patch.Runtime
			case "runtime.driver":
				a.Runtime.Driver = patch.Runtime.Driver
			case "runtime.replicas":
				a.Runtime.Replicas = patch.Runtime.Replicas
			case "runtime.image":
				a.Runtime.Image = patch.Runtime.Image
			case "runtime.cpu_millis":
				a.Runtime.CPUMillis = patch.Runtime.CPUMillis
			case "runtime.memory_bytes":
				a.Runtime.MemoryBytes = patch.Runtime.MemoryBytes
			case "labels":
				a.Labels = maps.Clone(patch.Labels)
				if a.Labels == nil {
					a.Labels = map[string]string{}
				}
			case "owner":
				a.Owner = patch.Owner
			}
		}
		a.Revision++
		a.UpdateTime = s.now()
		return &Change{Fields: fields}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("update agent %s: %w", id, err)
	}
	return a, nil
}

// Delete removes agent id, which must be DRAFT or REVOKED.
func (s *Service) Delete(ctx context.Context, id uuid.UUID, etag string) error {
	_, _, err := s.store.Mutate(ctx, id, func(a *Agent) (*Change, error) {
		if err := checkETag(a, etag); err != nil {
			return nil, err
		}
		if !Deletable(a.State) {
			return nil, errs.E(errs.FailedPrecondition, "AGENT_NOT_DELETABLE",
				"cannot delete agent %s while it is %s: only DRAFT and REVOKED agents can be deleted; revoke it first", a.Name, a.State).
				With("current_state", string(a.State))
		}
		a.Revision++
		a.UpdateTime = s.now()
		return &Change{Delete: true}, nil
	})
	if err != nil {
		return fmt.Errorf("delete agent %s: %w", id, err)
	}
	return nil
}

// Act applies a lifecycle action to agent id. A non-empty etag must be the
// agent's current one. Without a runtime the transition happens at once and
// is returned; with one, an operation is returned at once and the transition
// happens when the runtime has done the work (or the agent goes to ERRORED).
func (s *Service) Act(ctx context.Context, id uuid.UUID, action Action, etag, reason string) (*Agent, *Transition, *Operation, error) {
	if s.runtime == nil {
		a, t, err := s.store.Mutate(ctx, id, func(a *Agent) (*Change, error) {
			if err := checkETag(a, etag); err != nil {
				return nil, err
			}
			to, err := Next(a.State, action)
			if err != nil {
				return nil, err
			}
			now := s.now()
			t := &Transition{AgentID: a.ID, From: a.State, To: to, Action: action, Actor: actor.From(ctx), Reason: reason, Time: now}
			a.State, a.StateReason, a.Error = to, reason, nil
			a.Revision++
			a.UpdateTime = now
			return &Change{Transition: t}, nil
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s agent %s: %w", action, id, err)
		}
		return a, t, nil, nil
	}
	var op *Operation
	a, _, err := s.store.Mutate(ctx, id, func(a *Agent) (*Change, error) {
		if err := checkETag(a, etag); err != nil {
			return nil, err
		}
		if a.PendingOperation != "" {
			return nil, errs.E(errs.FailedPrecondition, "OPERATION_IN_PROGRESS",
				"agent %s is busy: operation %s is in progress; wait for it to finish", a.Name, a.PendingOperation).
				With("operation", a.PendingOperation).With("current_state", string(a.State))
		}
		to, err := Next(a.State, action)
		if err != nil {
			return nil, err
		}
		opID, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		now := s.now()
		op = &Operation{ID: opID.String(), AgentID: a.ID, Action: action, Status: OperationRunning, Actor: actor.From(ctx),
			Reason: reason, From: a.State, Target: to, CreateTime: now}
		a.PendingOperation = op.ID
		a.Revision++
		a.UpdateTime = now
		return &Change{Operation: op}, nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s agent %s: %w", action, id, err)
	}
	s.ops.Add(1)
	go func() {
		defer s.ops.Done()
		s.execute(s.bg, op)
	}()
	return a, nil, op, nil
}

// RunOperations sets the context operations run in, resumes the operations
// a previous process left unfinished (the runtime's calls are idempotent),
// and waits, when ctx ends, for those in flight.
func (s *Service) RunOperations(ctx context.Context) error {
	s.bg = ctx
	if err := s.closeInterrupted(ctx); err != nil {
		s.logger.Error("could not close interrupted bulk operations", "error", err)
	}
	ops, err := s.store.RunningOperations(ctx)
	if err != nil {
		return fmt.Errorf("resume operations: %w", err)
	}
	for _, op := range ops {
		s.logger.Info("resuming operation", "operation", op.ID, "agent_id", op.AgentID, "action", op.Action)
		s.ops.Add(1)
		go func() {
			defer s.ops.Done()
			s.execute(ctx, op)
		}()
	}
	<-ctx.Done()
	s.ops.Wait()
	return nil
}

// execute has the runtime carry out op, then records the outcome.
func (s *Service) execute(ctx context.Context, op *Operation) {
	a, err := s.store.Get(ctx, op.AgentID)
	if err != nil {
		s.logger.Error("operation lost its agent", "operation", op.ID, "error", err)
		return
	}
	applyErr := s.runtime.Apply(ctx, a, op.Action)
	if ctx.Err() != nil {
		return // shutting down: the operation resumes at the next start
	}
	if err := s.finish(context.WithoutCancel(ctx), op, applyErr); err != nil {
		s.logger.Error("operation outcome not recorded", "operation", op.ID, "error", err)
	}
}

var errFinished = errors.New("operation already finished")

// finish moves the agent to the operation's target state, or to ERRORED with
// the failure explained, and closes the operation.
func (s *Service) finish(ctx context.Context, op *Operation, applyErr error) error {
	_, _, err := s.store.Mutate(ctx, op.AgentID, func(a *Agent) (*Change, error) {
		if a.PendingOperation != op.ID {
			return nil, errFinished
		}
		now := s.now()
		t := &Transition{AgentID: a.ID, From: a.State, Action: op.Action, Actor: op.Actor, Reason: op.Reason, Time: now}
		if applyErr == nil {
			t.To = op.Target
			a.State, a.StateReason, a.Error = op.Target, op.Reason, nil
			op.Status = OperationSucceeded
		} else {
			f := explain(a, op.Action, applyErr, now)
			t.To, t.Reason = Errored, f.Message
			t.Metadata = map[string]string{"class": f.Class, "code": f.Code, "operation": op.ID}
			a.State, a.StateReason, a.Error = Errored, f.Message, f
			op.Status, op.Error = OperationFailed, f
		}
		op.DoneTime = now
		a.PendingOperation = ""
		a.Revision++
		a.UpdateTime = now
		return &Change{Transition: t, Operation: op}, nil
	})
	if errors.Is(err, errFinished) {
		return nil
	}
	if ch, ok := s.done.LoadAndDelete(op.ID); ok {
		close(ch.(chan struct{}))
	}
	return err
}

// WaitOperation returns operation id once it is done, or as it is when
// timeout runs out.
func (s *Service) WaitOperation(ctx context.Context, id string, timeout time.Duration) (*Operation, error) {
	ch, _ := s.done.LoadOrStore(id, make(chan struct{}))
	// Forget the channel on the way out, so that waits never pile up; a
	// concurrent waiter that shared it falls back to polling.
	defer s.done.CompareAndDelete(id, ch)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		op, err := s.store.GetOperation(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("wait for operation %s: %w", id, err)
		}
		if op.Status != OperationRunning {
			return op, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return op, nil
		case <-ch.(chan struct{}):
		case <-poll.C:
		}
	}
}

// GetOperation returns an operation.
func (s *Service) GetOperation(ctx context.Context, id string) (*Operation, error) {
	op, err := s.store.GetOperation(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get operation %s: %w", id, err)
	}
	return op, nil
}

// ExecuteSuggestion carries out one of the suggestions of the agent's current
// error.
func (s *Service) ExecuteSuggestion(ctx context.Context, id uuid.UUID, suggestionID, etag string) (*Agent, *Operation, error) {
	a, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("get agent %s: %w", id, err)
	}
	if err := checkETag(a, etag); err != nil {
		return nil, nil, err
	}
	if a.Error == nil {
		return nil, nil, errs.E(errs.FailedPrecondition, "NO_ERROR", "agent %s has no error to act on", a.Name)
	}
	var sug *Suggestion
	for i := range a.Error.Suggestions {
		if a.Error.Suggestions[i].ID == suggestionID {
			sug = &a.Error.Suggestions[i]
		}
	}
	if sug == nil {
		ids := make([]string, len(a.Error.Suggestions))
		for i, x := range a.Error.Suggestions {
			ids[i] = x.ID
		}
		return nil, nil, errs.InvalidField("suggestion_id", "%q is not a suggestion for this error; it has: %s", suggestionID, strings.Join(ids, ", "))
	}
	if sug.Action == "" {
		return nil, nil, errs.E(errs.FailedPrecondition, "NOTHING_TO_EXECUTE",
			"suggestion %q only points to %s; there is nothing to execute", sug.ID, sug.Link)
	}
	reason := "suggested action: " + sug.Title
	if sug.RollbackConfig {
		if a.PreviousConfig == nil {
			return nil, nil, errs.E(errs.FailedPrecondition, "NO_PREVIOUS_CONFIG", "agent %s has no earlier config to roll back to", a.Name)
		}
		if a, err = s.Update(ctx, id, a.ETag(), &Agent{Config: a.PreviousConfig}, []string{"config"}); err != nil {
			return nil, nil, err
		}
	}
	a, _, op, err := s.Act(ctx, id, sug.Action, a.ETag(), reason)
	if err != nil {
		return nil, nil, err
	}
	return a, op, nil
}

// Fail records a failure the platform observed outside an operation (a
// running agent that started crash-looping): the agent goes to ERRORED with
// the failure explained. An agent with an operation in progress is left to
// it, and the same failure is not recorded twice.
func (s *Service) Fail(ctx context.Context, id uuid.UUID, failure error) (*Agent, *Transition, error) {
	a, t, err := s.store.Mutate(ctx, id, func(a *Agent) (*Change, error) {
		if a.PendingOperation != "" {
			return nil, errFinished
		}
		to, err := Next(a.State, Fail)
		if err != nil {
			return nil, err
		}
		now := s.now()
		f := explain(a, Fail, failure, now)
		if a.State == Errored && a.Error != nil && a.Error.Code == f.Code {
			return nil, errFinished
		}
		t := &Transition{AgentID: a.ID, From: a.State, To: to, Action: Fail, Actor: actor.System, Reason: f.Message, Time: now,
			Metadata: map[string]string{"class": f.Class, "code": f.Code}}
		a.State, a.StateReason, a.Error = to, f.Message, f
		a.Revision++
		a.UpdateTime = now
		return &Change{Transition: t}, nil
	})
	if errors.Is(err, errFinished) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("record failure of agent %s: %w", id, err)
	}
	return a, t, nil
}

// History returns up to limit transitions after sequence after.
func (s *Service) History(ctx context.Context, id uuid.UUID, after int64, limit int) ([]*Transition, error) {
	ts, err := s.store.History(ctx, id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("history of agent %s: %w", id, err)
	}
	return ts, nil
}

func checkETag(a *Agent, etag string) error {
	if etag == "" || etag == a.ETag() {
		return nil
	}
	return errs.E(errs.Conflict, "ETAG_MISMATCH",
		"agent %s was changed by someone else: etag %q is stale (current %q); read it again and retry", a.Name, etag, a.ETag()).
		With("current_etag", a.ETag()).
		With("current_state", string(a.State))
}

func checkConfig(c map[string]any) error {
	b, err := json.Marshal(c)
	if err != nil {
		return errs.InvalidField("agent.config", "not representable as JSON: %v", err)
	}
	if len(b) > MaxConfigBytes {
		return errs.InvalidField("agent.config", "is %d bytes as JSON; the limit is %d", len(b), MaxConfigBytes)
	}
	return nil
}
