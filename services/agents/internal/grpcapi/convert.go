package grpcapi

import (
	"maps"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	"github.com/platformportal/portal/services/agents/internal/agents"
)

var (
	stateToProto = map[agents.State]agentsv1.AgentState{
		agents.Draft: agentsv1.AgentState_AGENT_STATE_DRAFT, agents.Provisioned: agentsv1.AgentState_AGENT_STATE_PROVISIONED,
		agents.Deployed: agentsv1.AgentState_AGENT_STATE_DEPLOYED, agents.Running: agentsv1.AgentState_AGENT_STATE_RUNNING,
		agents.Stopped: agentsv1.AgentState_AGENT_STATE_STOPPED, agents.Suspended: agentsv1.AgentState_AGENT_STATE_SUSPENDED,
		agents.Errored: agentsv1.AgentState_AGENT_STATE_ERRORED, agents.Revoked: agentsv1.AgentState_AGENT_STATE_REVOKED,
	}
	actionToProto = map[agents.Action]agentsv1.AgentAction{
		agents.Provision: agentsv1.AgentAction_AGENT_ACTION_PROVISION, agents.Deploy: agentsv1.AgentAction_AGENT_ACTION_DEPLOY,
		agents.Start: agentsv1.AgentAction_AGENT_ACTION_START, agents.Stop: agentsv1.AgentAction_AGENT_ACTION_STOP,
		agents.Suspend: agentsv1.AgentAction_AGENT_ACTION_SUSPEND, agents.Resume: agentsv1.AgentAction_AGENT_ACTION_RESUME,
		agents.Restart: agentsv1.AgentAction_AGENT_ACTION_RESTART, agents.Revoke: agentsv1.AgentAction_AGENT_ACTION_REVOKE,
		agents.Fail: agentsv1.AgentAction_AGENT_ACTION_FAIL, agents.Create: agentsv1.AgentAction_AGENT_ACTION_CREATE,
	}
	kindToProto = map[agents.Kind]agentsv1.AgentKind{
		agents.KindMemory: agentsv1.AgentKind_AGENT_KIND_MEMORY, agents.KindOrchestration: agentsv1.AgentKind_AGENT_KIND_ORCHESTRATION,
		agents.KindAPI: agentsv1.AgentKind_AGENT_KIND_API, agents.KindData: agentsv1.AgentKind_AGENT_KIND_DATA,
		agents.KindMonitoring: agentsv1.AgentKind_AGENT_KIND_MONITORING, agents.KindBlank: agentsv1.AgentKind_AGENT_KIND_BLANK,
	}
	tierToProto = map[agents.Tier]agentsv1.AgentTier{
		agents.TierDevelopment: agentsv1.AgentTier_AGENT_TIER_DEVELOPMENT, agents.TierStandard: agentsv1.AgentTier_AGENT_TIER_STANDARD,
		agents.TierCritical: agentsv1.AgentTier_AGENT_TIER_CRITICAL,
	}
	stateFromProto  = invert(stateToProto)
	actionFromProto = invert(actionToProto)
	kindFromProto   = invert(kindToProto)
	tierFromProto   = invert(tierToProto)
)

func invert[K, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// AgentToProto converts a domain agent.
func AgentToProto(a *agents.Agent) *agentsv1.Agent {
	cfg, err := structpb.NewStruct(a.Config)
	if err != nil {
		// Config came from JSON (a Struct or jsonb), so it always converts.
		cfg = &structpb.Struct{}
	}
	return &agentsv1.Agent{
		Id:          a.ID.String(),
		Name:        a.Name,
		DisplayName: a.DisplayName,
		Description: a.Description,
		Kind:        kindToProto[a.Kind],
		Tier:        tierToProto[a.Tier],
		Version:     a.Version,
		Config:      cfg,
		Labels:      maps.Clone(a.Labels),
		Owner:       a.Owner,
		Creator:     a.Creator,
		State:       stateToProto[a.State],
		StateReason: a.StateReason,
		Etag:        a.ETag(),
		CreateTime:  timestamppb.New(a.CreateTime),
		UpdateTime:  timestamppb.New(a.UpdateTime),
		Runtime: &agentsv1.Runtime{Driver: a.Runtime.Driver, Replicas: int32(a.Runtime.Replicas), Image: a.Runtime.Image,
			CpuMillis: a.Runtime.CPUMillis, MemoryBytes: a.Runtime.MemoryBytes},
		Error:            FailureToProto(a.Error),
		PendingOperation: a.PendingOperation,
	}
}

// FailureToProto converts an explained failure.
func FailureToProto(f *agents.Failure) *agentsv1.AgentError {
	if f == nil {
		return nil
	}
	p := &agentsv1.AgentError{Class: f.Class, Code: f.Code, Message: f.Message, ProbableCause: f.ProbableCause,
		Details: maps.Clone(f.Details), Time: timestamppb.New(f.Time), Action: actionToProto[f.Action]}
	for _, s := range f.Suggestions {
		p.SuggestedActions = append(p.SuggestedActions, &agentsv1.SuggestedAction{Id: s.ID, Title: s.Title,
			Description: s.Description, Action: actionToProto[s.Action], Link: s.Link})
	}
	return p
}

// OperationToProto converts an operation.
func OperationToProto(op *agents.Operation) *agentsv1.Operation {
	if op == nil {
		return nil
	}
	p := &agentsv1.Operation{Id: op.ID, AgentId: op.AgentID.String(), Action: actionToProto[op.Action],
		Status: agentsv1.OperationStatus(agentsv1.OperationStatus_value["OPERATION_STATUS_"+string(op.Status)]),
		Actor:  op.Actor, Reason: op.Reason, FromState: stateToProto[op.From], TargetState: stateToProto[op.Target],
		Error: FailureToProto(op.Error), CreateTime: timestamppb.New(op.CreateTime)}
	if !op.DoneTime.IsZero() {
		p.DoneTime = timestamppb.New(op.DoneTime)
	}
	return p
}

// agentFromProto converts the writable fields of a request's agent.
func agentFromProto(p *agentsv1.Agent) *agents.Agent {
	a := &agents.Agent{
		Name:        p.GetName(),
		DisplayName: p.GetDisplayName(),
		Description: p.GetDescription(),
		Kind:        kindFromProto[p.GetKind()],
		Tier:        tierFromProto[p.GetTier()],
		Version:     p.GetVersion(),
		Labels:      maps.Clone(p.GetLabels()),
		Owner:       p.GetOwner(),
	}
	if p.GetConfig() != nil {
		a.Config = p.GetConfig().AsMap()
	}
	if r := p.GetRuntime(); r != nil {
		a.Runtime = agents.RuntimeSpec{Driver: r.GetDriver(), Replicas: int(r.GetReplicas()), Image: r.GetImage(),
			CPUMillis: r.GetCpuMillis(), MemoryBytes: r.GetMemoryBytes()}
	}
	return a
}

// TransitionToProto converts a history entry.
func TransitionToProto(t *agents.Transition) *agentsv1.StateTransition {
	if t == nil {
		return nil
	}
	return &agentsv1.StateTransition{
		AgentId:   t.AgentID.String(),
		Sequence:  t.Sequence,
		FromState: stateToProto[t.From],
		ToState:   stateToProto[t.To],
		Action:    actionToProto[t.Action],
		Actor:     t.Actor,
		Reason:    t.Reason,
		Time:      timestamppb.New(t.Time),
		Metadata:  maps.Clone(t.Metadata),
	}
}

// BulkToProto converts a bulk operation; results are left out when brief.
func BulkToProto(b *agents.BulkOperation, brief bool) *agentsv1.BulkOperation {
	p := &agentsv1.BulkOperation{Id: b.ID, Action: actionToProto[b.Action],
		Status:      agentsv1.BulkStatus(agentsv1.BulkStatus_value["BULK_STATUS_"+string(b.Status)]),
		Parallelism: int32(b.Parallelism), RollbackThreshold: b.RollbackThreshold, Total: int32(len(b.Results)),
		Succeeded: int32(b.Succeeded), Failed: int32(b.Failed), Skipped: int32(b.Skipped), RolledBack: b.RolledBack,
		Actor: b.Actor, CreateTime: timestamppb.New(b.CreateTime)}
	if !b.DoneTime.IsZero() {
		p.DoneTime = timestamppb.New(b.DoneTime)
	}
	if !brief {
		for i := range b.Results {
			p.Results = append(p.Results, BulkResultToProto(&b.Results[i]))
		}
	}
	return p
}

// BulkResultToProto converts one agent's result.
func BulkResultToProto(r *agents.BulkResult) *agentsv1.BulkResult {
	if r == nil {
		return nil
	}
	return &agentsv1.BulkResult{AgentId: r.AgentID.String(), Name: r.Name, Outcome: r.Outcome, Reason: r.Reason,
		FromState: stateToProto[r.From], ToState: stateToProto[r.To], OperationId: r.OperationID}
}
