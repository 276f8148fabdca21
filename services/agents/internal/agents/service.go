package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/errs"
)

// MaxConfigBytes bounds an agent's configuration, as JSON.
const MaxConfigBytes = 64 << 10

// UpdatableFields are the fields UpdateAgent may change.
var UpdatableFields = []string{"display_name", "description", "tier", "version", "config", "labels", "owner"}

// Service applies the registry's rules on top of a Store.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store.
func NewService(store Store) *Service {
	// Microseconds: what PostgreSQL keeps, so a value read back equals the one written.
	return &Service{store: store, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
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
				a.Config = maps.Clone(patch.Config)
				if a.Config == nil {
					a.Config = map[string]any{}
				}
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
// agent's current one.
func (s *Service) Act(ctx context.Context, id uuid.UUID, action Action, etag, reason string) (*Agent, *Transition, error) {
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
		a.State, a.StateReason = to, reason
		a.Revision++
		a.UpdateTime = now
		return &Change{Transition: t}, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s agent %s: %w", action, id, err)
	}
	return a, t, nil
}

// Fail records a failure the platform observed: the agent goes to ERRORED with
// reason. metadata carries the failure's details into the history.
func (s *Service) Fail(ctx context.Context, id uuid.UUID, reason string, metadata map[string]string) (*Agent, *Transition, error) {
	a, t, err := s.store.Mutate(ctx, id, func(a *Agent) (*Change, error) {
		to, err := Next(a.State, Fail)
		if err != nil {
			return nil, err
		}
		now := s.now()
		t := &Transition{AgentID: a.ID, From: a.State, To: to, Action: Fail, Actor: actor.System, Reason: reason, Time: now, Metadata: metadata}
		a.State, a.StateReason = to, reason
		a.Revision++
		a.UpdateTime = now
		return &Change{Transition: t}, nil
	})
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
