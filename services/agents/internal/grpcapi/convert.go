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
	stateFromProto = invert(stateToProto)
	kindFromProto  = invert(kindToProto)
	tierFromProto  = invert(tierToProto)
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
	}
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
