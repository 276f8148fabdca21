// Package grpcapi serves the AgentService over gRPC: it converts between the
// protos and the domain, and leaves errors to the server's one mapping
// interceptor.
package grpcapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/platformportal/portal/platform/errs"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	"github.com/platformportal/portal/services/agents/internal/agents"
)

// Page sizes when the request gives none.
const (
	defaultAgentPage   = 50
	defaultHistoryPage = 100
)

// Server implements agentsv1.AgentServiceServer.
type Server struct {
	agentsv1.UnimplementedAgentServiceServer
	svc *agents.Service
}

// NewServer returns a Server over svc.
func NewServer(svc *agents.Service) *Server { return &Server{svc: svc} }

// CreateAgent implements agentsv1.AgentServiceServer.
func (s *Server) CreateAgent(ctx context.Context, req *agentsv1.CreateAgentRequest) (*agentsv1.CreateAgentResponse, error) {
	a, err := s.svc.Create(ctx, agentFromProto(req.GetAgent()))
	if err != nil {
		return nil, err
	}
	return &agentsv1.CreateAgentResponse{Agent: AgentToProto(a)}, nil
}

// GetAgent implements agentsv1.AgentServiceServer.
func (s *Server) GetAgent(ctx context.Context, req *agentsv1.GetAgentRequest) (*agentsv1.GetAgentResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	a, err := s.svc.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &agentsv1.GetAgentResponse{Agent: AgentToProto(a)}, nil
}

// listToken is the content of a ListAgents page token. It pins the filter and
// order it was made for, so a token is never applied to another query.
type listToken struct {
	Query string    `json:"q"`
	Key   string    `json:"k"`
	ID    uuid.UUID `json:"i"`
}

// ListAgents implements agentsv1.AgentServiceServer.
func (s *Server) ListAgents(ctx context.Context, req *agentsv1.ListAgentsRequest) (*agentsv1.ListAgentsResponse, error) {
	f, err := filterFrom(req.GetStates(), req.GetKinds(), req.GetLabelSelector(), req.GetQuery())
	if err != nil {
		return nil, err
	}
	o := agents.Order{Field: "create_time", Desc: true}
	if ob := req.GetOrderBy(); ob != "" {
		field, dir, _ := strings.Cut(ob, " ")
		o = agents.Order{Field: field, Desc: dir == "desc"}
	}
	fingerprint := queryFingerprint(req)
	var after *agents.Cursor
	if t := req.GetPageToken(); t != "" {
		var tok listToken
		if err := decodeToken(t, &tok); err != nil {
			return nil, err
		}
		if tok.Query != fingerprint {
			return nil, errs.InvalidField("page_token", "was made for a different filter or order; start again without a token")
		}
		after = &agents.Cursor{Key: tok.Key, ID: tok.ID}
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultAgentPage
	}
	page, err := s.svc.List(ctx, f, o, after, size)
	if err != nil {
		return nil, err
	}
	resp := &agentsv1.ListAgentsResponse{TotalSize: int32(page.Total)}
	for _, a := range page.Agents {
		resp.Agents = append(resp.Agents, AgentToProto(a))
	}
	if page.Next != nil {
		resp.NextPageToken = encodeToken(listToken{Query: fingerprint, Key: page.Next.Key, ID: page.Next.ID})
	}
	return resp, nil
}

// UpdateAgent implements agentsv1.AgentServiceServer.
func (s *Server) UpdateAgent(ctx context.Context, req *agentsv1.UpdateAgentRequest) (*agentsv1.UpdateAgentResponse, error) {
	id, err := parseID("agent.id", req.GetAgent().GetId())
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	// REST clients may name fields in their JSON (camelCase) form.
	fields := make([]string, 0, len(paths))
	for _, p := range paths {
		// id and etag identify the agent and its version; over REST the gateway
		// infers the mask from the body, which carries them.
		f := camelToSnake(p)
		if f == "id" || f == "etag" {
			continue
		}
		// A REST body's nested keys arrive as nested paths: config and labels
		// are replaced whole, runtime field by field.
		if top, _, ok := strings.Cut(f, "."); ok && (top == "config" || top == "labels") {
			f = top
		}
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	a, err := s.svc.Update(ctx, id, req.GetAgent().GetEtag(), agentFromProto(req.GetAgent()), fields)
	if err != nil {
		return nil, err
	}
	return &agentsv1.UpdateAgentResponse{Agent: AgentToProto(a)}, nil
}

// DeleteAgent implements agentsv1.AgentServiceServer.
func (s *Server) DeleteAgent(ctx context.Context, req *agentsv1.DeleteAgentRequest) (*agentsv1.DeleteAgentResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	if err := s.svc.Delete(ctx, id, req.GetEtag()); err != nil {
		return nil, err
	}
	return &agentsv1.DeleteAgentResponse{}, nil
}

// actionRequest is what every lifecycle request has.
type actionRequest interface {
	GetId() string
	GetEtag() string
	GetReason() string
}

func (s *Server) act(ctx context.Context, action agents.Action, req actionRequest) (*agentsv1.Agent, *agentsv1.StateTransition, *agentsv1.Operation, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, nil, nil, err
	}
	a, t, op, err := s.svc.Act(ctx, id, action, req.GetEtag(), req.GetReason())
	if err != nil {
		return nil, nil, nil, err
	}
	return AgentToProto(a), TransitionToProto(t), OperationToProto(op), nil
}

// ProvisionAgent implements agentsv1.AgentServiceServer.
func (s *Server) ProvisionAgent(ctx context.Context, req *agentsv1.ProvisionAgentRequest) (*agentsv1.ProvisionAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Provision, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.ProvisionAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// DeployAgent implements agentsv1.AgentServiceServer.
func (s *Server) DeployAgent(ctx context.Context, req *agentsv1.DeployAgentRequest) (*agentsv1.DeployAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Deploy, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.DeployAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// StartAgent implements agentsv1.AgentServiceServer.
func (s *Server) StartAgent(ctx context.Context, req *agentsv1.StartAgentRequest) (*agentsv1.StartAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Start, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.StartAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// StopAgent implements agentsv1.AgentServiceServer.
func (s *Server) StopAgent(ctx context.Context, req *agentsv1.StopAgentRequest) (*agentsv1.StopAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Stop, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.StopAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// SuspendAgent implements agentsv1.AgentServiceServer.
func (s *Server) SuspendAgent(ctx context.Context, req *agentsv1.SuspendAgentRequest) (*agentsv1.SuspendAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Suspend, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.SuspendAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// ResumeAgent implements agentsv1.AgentServiceServer.
func (s *Server) ResumeAgent(ctx context.Context, req *agentsv1.ResumeAgentRequest) (*agentsv1.ResumeAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Resume, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.ResumeAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// RestartAgent implements agentsv1.AgentServiceServer.
func (s *Server) RestartAgent(ctx context.Context, req *agentsv1.RestartAgentRequest) (*agentsv1.RestartAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Restart, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.RestartAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// RevokeAgent implements agentsv1.AgentServiceServer.
func (s *Server) RevokeAgent(ctx context.Context, req *agentsv1.RevokeAgentRequest) (*agentsv1.RevokeAgentResponse, error) {
	a, t, op, err := s.act(ctx, agents.Revoke, req)
	if err != nil {
		return nil, err
	}
	return &agentsv1.RevokeAgentResponse{Agent: a, Transition: t, Operation: op}, nil
}

// BulkAgentAction implements agentsv1.AgentServiceServer.
func (s *Server) BulkAgentAction(ctx context.Context, req *agentsv1.BulkAgentActionRequest) (*agentsv1.BulkAgentActionResponse, error) {
	br := agents.BulkRequest{Action: actionFromProto[req.GetAction()], Parallelism: int(req.GetParallelism()),
		RollbackThreshold: req.GetRollbackThreshold(), Reason: req.GetReason()}
	for _, id := range req.GetAgentIds() {
		u, err := parseID("agent_ids", id)
		if err != nil {
			return nil, err
		}
		br.IDs = append(br.IDs, u)
	}
	f, err := filterFrom(req.GetStates(), req.GetKinds(), req.GetLabelSelector(), req.GetQuery())
	if err != nil {
		return nil, err
	}
	if len(br.IDs) > 0 && (len(f.States) > 0 || len(f.Kinds) > 0 || len(f.Labels) > 0 || f.Query != "") {
		return nil, errs.InvalidField("agent_ids", "name agents or give a filter, not both")
	}
	br.Filter = f
	b, err := s.svc.Bulk(ctx, br)
	if err != nil {
		return nil, err
	}
	return &agentsv1.BulkAgentActionResponse{BulkOperation: BulkToProto(b, false)}, nil
}

// GetBulkOperation implements agentsv1.AgentServiceServer.
func (s *Server) GetBulkOperation(ctx context.Context, req *agentsv1.GetBulkOperationRequest) (*agentsv1.GetBulkOperationResponse, error) {
	b, err := s.svc.GetBulk(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &agentsv1.GetBulkOperationResponse{BulkOperation: BulkToProto(b, false)}, nil
}

// GetOperation implements agentsv1.AgentServiceServer.
func (s *Server) GetOperation(ctx context.Context, req *agentsv1.GetOperationRequest) (*agentsv1.GetOperationResponse, error) {
	op, err := s.svc.GetOperation(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &agentsv1.GetOperationResponse{Operation: OperationToProto(op)}, nil
}

// WaitOperation implements agentsv1.AgentServiceServer.
func (s *Server) WaitOperation(ctx context.Context, req *agentsv1.WaitOperationRequest) (*agentsv1.WaitOperationResponse, error) {
	timeout := req.GetTimeout().AsDuration()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	op, err := s.svc.WaitOperation(ctx, req.GetId(), timeout)
	if err != nil {
		return nil, err
	}
	return &agentsv1.WaitOperationResponse{Operation: OperationToProto(op)}, nil
}

// ExecuteSuggestedAction implements agentsv1.AgentServiceServer.
func (s *Server) ExecuteSuggestedAction(ctx context.Context, req *agentsv1.ExecuteSuggestedActionRequest) (*agentsv1.ExecuteSuggestedActionResponse, error) {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return nil, err
	}
	a, op, err := s.svc.ExecuteSuggestion(ctx, id, req.GetSuggestionId(), req.GetEtag())
	if err != nil {
		return nil, err
	}
	return &agentsv1.ExecuteSuggestedActionResponse{Agent: AgentToProto(a), Operation: OperationToProto(op)}, nil
}

type historyToken struct {
	Agent    uuid.UUID `json:"a"`
	Sequence int64     `json:"s"`
}

// ListStateHistory implements agentsv1.AgentServiceServer.
func (s *Server) ListStateHistory(ctx context.Context, req *agentsv1.ListStateHistoryRequest) (*agentsv1.ListStateHistoryResponse, error) {
	id, err := parseID("agent_id", req.GetAgentId())
	if err != nil {
		return nil, err
	}
	var after int64
	if t := req.GetPageToken(); t != "" {
		var tok historyToken
		if err := decodeToken(t, &tok); err != nil {
			return nil, err
		}
		if tok.Agent != id {
			return nil, errs.InvalidField("page_token", "was made for another agent")
		}
		after = tok.Sequence
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultHistoryPage
	}
	ts, err := s.svc.History(ctx, id, after, size+1)
	if err != nil {
		return nil, err
	}
	resp := &agentsv1.ListStateHistoryResponse{}
	if len(ts) > size {
		ts = ts[:size]
		resp.NextPageToken = encodeToken(historyToken{Agent: id, Sequence: ts[size-1].Sequence})
	}
	for _, t := range ts {
		resp.Transitions = append(resp.Transitions, TransitionToProto(t))
	}
	return resp, nil
}

func filterFrom(states []agentsv1.AgentState, kinds []agentsv1.AgentKind, selector, query string) (agents.Filter, error) {
	f := agents.Filter{Query: query}
	for _, st := range states {
		f.States = append(f.States, stateFromProto[st])
	}
	for _, k := range kinds {
		f.Kinds = append(f.Kinds, kindFromProto[k])
	}
	if selector != "" {
		f.Labels = map[string]string{}
		for _, kv := range strings.Split(selector, ",") {
			k, v, _ := strings.Cut(kv, "=") // the proto's pattern guarantees the form
			f.Labels[k] = v
		}
	}
	return f, nil
}

func parseID(field, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, errs.InvalidField(field, "%q is not a UUID", s)
	}
	return id, nil
}

func encodeToken(v any) string {
	b, _ := json.Marshal(v) // plain structs always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		return errs.InvalidField("page_token", "is malformed; use next_page_token from the previous response")
	}
	return nil
}

// queryFingerprint identifies a ListAgents query apart from its paging.
func queryFingerprint(req *agentsv1.ListAgentsRequest) string {
	states := make([]int32, 0, len(req.GetStates()))
	for _, st := range req.GetStates() {
		states = append(states, int32(st))
	}
	kinds := make([]int32, 0, len(req.GetKinds()))
	for _, k := range req.GetKinds() {
		kinds = append(kinds, int32(k))
	}
	slices.Sort(states)
	slices.Sort(kinds)
	b, _ := json.Marshal([]any{states, kinds, req.GetLabelSelector(), req.GetQuery(), req.GetOrderBy()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func camelToSnake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
