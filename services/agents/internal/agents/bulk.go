package agents

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/errs"
)

// DefaultParallelism is how many agents a bulk operation acts on at once
// when the request does not say.
const DefaultParallelism = 5

// MaxBulkAgents bounds one bulk operation.
const MaxBulkAgents = 1000

// BulkStatus is where a bulk operation stands.
type BulkStatus string

// Bulk statuses.
const (
	BulkRunning         BulkStatus = "RUNNING"
	BulkSucceeded       BulkStatus = "SUCCEEDED"
	BulkPartiallyFailed BulkStatus = "PARTIALLY_FAILED"
	BulkRolledBack      BulkStatus = "ROLLED_BACK"
)

// Bulk outcomes per agent.
const (
	OutcomePending        = "pending"
	OutcomeRunning        = "running"
	OutcomeSucceeded      = "succeeded"
	OutcomeFailed         = "failed"
	OutcomeSkipped        = "skipped"
	OutcomeRolledBack     = "rolled_back"
	OutcomeRollbackFailed = "rollback_failed"
)

// BulkRequest asks for one action on many agents.
type BulkRequest struct {
	Action Action
	// IDs, or else Filter, select the agents.
	IDs               []uuid.UUID
	Filter            Filter
	Parallelism       int
	RollbackThreshold float64
	Reason            string
}

// BulkResult is what happened to one agent.
type BulkResult struct {
	AgentID     uuid.UUID `json:"agentId"`
	Name        string    `json:"name"`
	Outcome     string    `json:"outcome"`
	Reason      string    `json:"reason,omitempty"`
	From        State     `json:"from,omitempty"`
	To          State     `json:"to,omitempty"`
	OperationID string    `json:"operationId,omitempty"`
}

// BulkOperation is one action over many agents.
type BulkOperation struct {
	ID                string
	Action            Action
	Status            BulkStatus
	Parallelism       int
	RollbackThreshold float64
	Succeeded         int
	Failed            int
	Skipped           int
	RolledBack        bool
	Results           []BulkResult
	Actor             string
	CreateTime        time.Time
	DoneTime          time.Time
}

// BulkStore keeps bulk operations.
type BulkStore interface {
	// RunningBulks returns the bulk operations not finished, oldest first.
	RunningBulks(ctx context.Context) ([]*BulkOperation, error)
	// SaveBulk writes b and publishes its progress (about one agent, or the
	// summary when r is nil) in one transaction.
	SaveBulk(ctx context.Context, b *BulkOperation, r *BulkResult) error
	// GetBulk returns one. NotFound when there is none.
	GetBulk(ctx context.Context, id string) (*BulkOperation, error)
}

// inverse is the action that takes an agent back where an action took it.
var inverse = map[Action]Action{Start: Stop, Stop: Start, Suspend: Resume, Resume: Suspend}

// Bulk starts a bulk operation and returns it at once; it runs in the
// service's background context.
func (s *Service) Bulk(ctx context.Context, req BulkRequest) (*BulkOperation, error) {
	if req.Parallelism <= 0 {
		req.Parallelism = DefaultParallelism
	}
	var targets []*Agent
	if len(req.IDs) > 0 {
		for _, id := range req.IDs {
			a, err := s.store.Get(ctx, id)
			if err != nil && !errs.Is(err, errs.NotFound) {
				return nil, fmt.Errorf("bulk %s: %w", req.Action, err)
			}
			if a == nil {
				a = &Agent{ID: id}
			}
			targets = append(targets, a)
		}
	} else {
		var after *Cursor
		for {
			p, err := s.store.List(ctx, req.Filter, Order{Field: "name"}, after, 500)
			if err != nil {
				return nil, fmt.Errorf("bulk %s: select agents: %w", req.Action, err)
			}
			targets = append(targets, p.Agents...)
			if p.Next == nil || len(targets) > MaxBulkAgents {
				break
			}
			after = p.Next
		}
	}
	if len(targets) == 0 {
		return nil, errs.E(errs.Invalid, "NO_AGENTS_SELECTED", "the request selects no agents")
	}
	if len(targets) > MaxBulkAgents {
		return nil, errs.E(errs.Invalid, "TOO_MANY_AGENTS", "the request selects more than %d agents; narrow the filter", MaxBulkAgents)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	b := &BulkOperation{ID: id.String(), Action: req.Action, Status: BulkRunning, Parallelism: req.Parallelism,
		RollbackThreshold: req.RollbackThreshold, Actor: actor.From(ctx), CreateTime: s.now()}
	for _, a := range targets {
		r := BulkResult{AgentID: a.ID, Name: a.Name, Outcome: OutcomePending, From: a.State}
		if a.Name == "" {
			r.Outcome, r.Reason = OutcomeSkipped, "agent not found"
			b.Skipped++
		}
		b.Results = append(b.Results, r)
	}
	if err := s.store.SaveBulk(ctx, b, nil); err != nil {
		return nil, fmt.Errorf("bulk %s: %w", req.Action, err)
	}
	run := &bulkRun{s: s, store: s.store, b: b, actorCtx: actor.With(context.WithoutCancel(ctx), b.Actor), reason: req.Reason}
	s.ops.Add(1)
	go func() {
		defer s.ops.Done()
		run.run(s.bg)
	}()
	return cloneBulk(b), nil
}

type bulkRun struct {
	s        *Service
	store    BulkStore
	actorCtx context.Context
	reason   string

	mu sync.Mutex // guards b
	b  *BulkOperation
}

func (r *bulkRun) run(ctx context.Context) {
	r.each(ctx, func(i int) bool { return r.b.Results[i].Outcome == OutcomePending }, r.b.Action, false)
	r.mu.Lock()
	acted := r.b.Succeeded + r.b.Failed
	rollback := r.b.RollbackThreshold > 0 && acted > 0 && float64(r.b.Failed)/float64(acted) > r.b.RollbackThreshold
	r.mu.Unlock()
	if rollback {
		if back, ok := inverse[r.b.Action]; ok {
			r.each(ctx, func(i int) bool { return r.b.Results[i].Outcome == OutcomeSucceeded }, back, true)
		}
	}
	r.mu.Lock()
	switch {
	case rollback:
		r.b.Status, r.b.RolledBack = BulkRolledBack, true
	case r.b.Failed > 0:
		r.b.Status = BulkPartiallyFailed
	default:
		r.b.Status = BulkSucceeded
	}
	r.b.DoneTime = r.s.now()
	b := cloneBulk(r.b)
	r.mu.Unlock()
	if err := r.store.SaveBulk(context.WithoutCancel(ctx), b, nil); err != nil {
		r.s.logger.Error("bulk summary not recorded", "bulk_operation", b.ID, "error", err)
	}
}

// each applies action to the results selected by want, at most Parallelism
// at a time.
func (r *bulkRun) each(ctx context.Context, want func(i int) bool, action Action, rollingBack bool) {
	sem := make(chan struct{}, r.b.Parallelism)
	var wg sync.WaitGroup
	for i := range r.b.Results {
		r.mu.Lock()
		ok := want(i)
		id := r.b.Results[i].AgentID
		r.mu.Unlock()
		if !ok {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcome, reason, to, opID := r.actOn(ctx, id, action)
			r.record(ctx, i, outcome, reason, to, opID, rollingBack)
		}()
	}
	wg.Wait()
}

// actOn runs action on one agent and waits for its operation.
func (r *bulkRun) actOn(ctx context.Context, id uuid.UUID, action Action) (outcome, reason string, to State, opID string) {
	reason = r.reason
	if reason == "" {
		reason = "bulk " + string(action)
	}
	a, t, op, err := r.s.Act(r.actorCtx, id, action, "", reason)
	switch {
	case errs.Is(err, errs.FailedPrecondition), errs.Is(err, errs.NotFound):
		return OutcomeSkipped, err.Error(), "", ""
	case err != nil:
		return OutcomeFailed, err.Error(), "", ""
	case t != nil || op == nil: // no runtime: done already
		return OutcomeSucceeded, "", a.State, ""
	}
	done, err := r.s.waitOperation(ctx, op.ID)
	if err != nil {
		return OutcomeFailed, err.Error(), "", op.ID
	}
	if done.Status == OperationFailed {
		msg := "failed"
		if done.Error != nil {
			msg = done.Error.Message
		}
		return OutcomeFailed, msg, Errored, op.ID
	}
	return OutcomeSucceeded, "", done.Target, op.ID
}

func (r *bulkRun) record(ctx context.Context, i int, outcome, reason string, to State, opID string, rollingBack bool) {
	r.mu.Lock()
	res := &r.b.Results[i]
	if rollingBack {
		if outcome == OutcomeSucceeded {
			res.Outcome, res.To = OutcomeRolledBack, to
		} else {
			res.Outcome, res.Reason = OutcomeRollbackFailed, reason
		}
	} else {
		res.Outcome, res.Reason, res.To, res.OperationID = outcome, reason, to, opID
		switch outcome {
		case OutcomeSucceeded:
			r.b.Succeeded++
		case OutcomeFailed:
			r.b.Failed++
		case OutcomeSkipped:
			r.b.Skipped++
		}
	}
	b, result := cloneBulk(r.b), *res
	r.mu.Unlock()
	if err := r.store.SaveBulk(context.WithoutCancel(ctx), b, &result); err != nil {
		r.s.logger.Error("bulk progress not recorded", "bulk_operation", b.ID, "error", err)
	}
}

// waitOperation waits for an operation to be done.
func (s *Service) waitOperation(ctx context.Context, id string) (*Operation, error) {
	for {
		op, err := s.WaitOperation(ctx, id, time.Minute)
		if err != nil || op.Status != OperationRunning {
			return op, err
		}
	}
}

// GetBulk returns a bulk operation.
func (s *Service) GetBulk(ctx context.Context, id string) (*BulkOperation, error) {
	b, err := s.store.GetBulk(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get bulk operation %s: %w", id, err)
	}
	return b, nil
}

func cloneBulk(b *BulkOperation) *BulkOperation {
	c := *b
	c.Results = append([]BulkResult(nil), b.Results...)
	return &c
}

// closeInterrupted ends the bulk operations a previous process left running:
// the agents it had not reached are skipped, so the summary stays true. (The
// operations it had started on single agents resume on their own.)
func (s *Service) closeInterrupted(ctx context.Context) error {
	bulks, err := s.store.RunningBulks(ctx)
	if err != nil {
		return fmt.Errorf("interrupted bulk operations: %w", err)
	}
	for _, b := range bulks {
		for i := range b.Results {
			if r := &b.Results[i]; r.Outcome == OutcomePending || r.Outcome == OutcomeRunning {
				r.Outcome, r.Reason = OutcomeSkipped, "interrupted by a restart of the agents service"
				b.Skipped++
			}
		}
		b.Status = BulkSucceeded
		if b.Failed > 0 || b.Skipped > 0 {
			b.Status = BulkPartiallyFailed
		}
		b.DoneTime = s.now()
		if err := s.store.SaveBulk(ctx, b, nil); err != nil {
			return fmt.Errorf("close bulk operation %s: %w", b.ID, err)
		}
		s.logger.Warn("bulk operation interrupted by a restart", "bulk_operation", b.ID)
	}
	return nil
}
