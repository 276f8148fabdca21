package grpcapi

import (
	"context"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/outbox"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	"github.com/platformportal/portal/services/agents/internal/agents"
)

// Source names the agents service in its events.
const Source = "portal/agents"

// The event subjects: portal.events.agents.<type>.
var (
	SubjectCreated      = events.Subject("agents", "created")
	SubjectUpdated      = events.Subject("agents", "updated")
	SubjectDeleted      = events.Subject("agents", "deleted")
	SubjectStateChanged = events.Subject("agents", "state_changed")
)

// Events builds the service's events from committed changes.
type Events struct{}

// Resource is an agent's event subject ("agents/<id>"), the key WebSocket
// clients follow one agent by.
func Resource(a *agents.Agent) string { return "agents/" + a.ID.String() }

// Created is AgentCreated.
func (Events) Created(a *agents.Agent) outbox.Event {
	return outbox.Event{Subject: SubjectCreated, Source: Source, Resource: Resource(a), Time: a.UpdateTime,
		Payload: &agentsv1.AgentCreated{Agent: AgentToProto(a), Actor: a.Creator}}
}

// Updated is AgentUpdated.
func (Events) Updated(ctx context.Context, a *agents.Agent, fields []string) outbox.Event {
	return outbox.Event{Subject: SubjectUpdated, Source: Source, Resource: Resource(a), Time: a.UpdateTime,
		Payload: &agentsv1.AgentUpdated{Agent: AgentToProto(a), ChangedFields: fields, Actor: actor.From(ctx)}}
}

// Deleted is AgentDeleted.
func (Events) Deleted(ctx context.Context, a *agents.Agent) outbox.Event {
	return outbox.Event{Subject: SubjectDeleted, Source: Source, Resource: Resource(a), Time: a.UpdateTime,
		Payload: &agentsv1.AgentDeleted{Agent: AgentToProto(a), Actor: actor.From(ctx)}}
}

// StateChanged is AgentStateChanged.
func (Events) StateChanged(a *agents.Agent, t *agents.Transition) outbox.Event {
	return outbox.Event{Subject: SubjectStateChanged, Source: Source, Resource: Resource(a), Time: t.Time,
		Payload: &agentsv1.AgentStateChanged{Agent: AgentToProto(a), Transition: TransitionToProto(t)}}
}

// SubjectOperationChanged is where operation progress is published.
var SubjectOperationChanged = events.Subject("agents", "operation_changed")

// OperationChanged is OperationChanged.
func (Events) OperationChanged(op *agents.Operation) outbox.Event {
	t := op.CreateTime
	if !op.DoneTime.IsZero() {
		t = op.DoneTime
	}
	return outbox.Event{Subject: SubjectOperationChanged, Source: Source, Resource: "agents/" + op.AgentID.String(), Time: t,
		Payload: &agentsv1.OperationChanged{Operation: OperationToProto(op)}}
}

// SubjectBulkProgress is where bulk operations report.
var SubjectBulkProgress = events.Subject("agents", "bulk_progress")

// BulkProgress is BulkOperationProgress; its resource is the bulk operation,
// so a client follows one with the topic "bulkOperations/<id>".
func (Events) BulkProgress(b *agents.BulkOperation, r *agents.BulkResult) outbox.Event {
	t := b.CreateTime
	if !b.DoneTime.IsZero() {
		t = b.DoneTime
	}
	return outbox.Event{Subject: SubjectBulkProgress, Source: Source, Resource: "bulkOperations/" + b.ID, Time: t,
		Payload: &agentsv1.BulkOperationProgress{BulkOperation: BulkToProto(b, true), Result: BulkResultToProto(r)}}
}
