package agents_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/platformportal/portal/platform/auth/authtest"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/natsserver"
	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/pgtest"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	agentsvc "github.com/platformportal/portal/services/agents"
	"github.com/platformportal/portal/services/agents/internal/agents"
	"github.com/platformportal/portal/services/agents/internal/grpcapi"
	store "github.com/platformportal/portal/services/agents/internal/postgres"
)

type env struct {
	client agentsv1.AgentServiceClient
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	svc    *agentsvc.Service
	// domain is the service's rules over the same database, for what the API
	// does not offer (recording a failure).
	domain *agents.Service
}

// newEnv starts the service on the real gRPC stack, over a fresh database and
// an in-process NATS server. The outbox relay runs only when relay is true.
func newEnv(t *testing.T, relay bool) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pool := pgtest.NewPool(t, pgtest.Migration{Schema: agentsvc.Schema, FS: agentsvc.Migrations()})
	_, js := natsserver.NewTestJetStream(t)
	if _, err := events.EnsureStream(ctx, js, config.NATS{StreamMaxAge: time.Hour, DuplicateWindow: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	svc, err := agentsvc.New(pool, js, logging.Discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcserver.New(logging.Discard(), authtest.Guard(testKey))
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, lis, time.Second) }() //nolint:errcheck
	t.Cleanup(func() { cancel(); <-done })
	if relay {
		go svc.RunRelay(ctx) //nolint:errcheck
	}
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		authtest.As(testKey, authv1.Role_ROLE_ADMIN))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ob, _ := outbox.New(store.OutboxTable)
	return &env{
		client: agentsv1.NewAgentServiceClient(conn),
		pool:   pool, js: js, svc: svc,
		domain: agents.NewService(store.New(pool, ob, grpcapi.Events{}), nil, nil),
	}
}

func (e *env) create(t *testing.T, name string, kind agentsv1.AgentKind) *agentsv1.Agent {
	t.Helper()
	resp, err := e.client.CreateAgent(context.Background(), &agentsv1.CreateAgentRequest{Agent: &agentsv1.Agent{Name: name, Kind: kind}})
	if err != nil {
		t.Fatalf("CreateAgent(%s) = %v", name, err)
	}
	return resp.GetAgent()
}

// act calls the lifecycle RPC for action.
func (e *env) act(ctx context.Context, action agents.Action, id, etag string) (*agentsv1.Agent, error) {
	c := e.client
	type resp interface{ GetAgent() *agentsv1.Agent }
	var r resp
	var err error
	switch action {
	case agents.Provision:
		r, err = c.ProvisionAgent(ctx, &agentsv1.ProvisionAgentRequest{Id: id, Etag: etag})
	case agents.Deploy:
		r, err = c.DeployAgent(ctx, &agentsv1.DeployAgentRequest{Id: id, Etag: etag})
	case agents.Start:
		r, err = c.StartAgent(ctx, &agentsv1.StartAgentRequest{Id: id, Etag: etag})
	case agents.Stop:
		r, err = c.StopAgent(ctx, &agentsv1.StopAgentRequest{Id: id, Etag: etag})
	case agents.Suspend:
		r, err = c.SuspendAgent(ctx, &agentsv1.SuspendAgentRequest{Id: id, Etag: etag})
	case agents.Resume:
		r, err = c.ResumeAgent(ctx, &agentsv1.ResumeAgentRequest{Id: id, Etag: etag})
	case agents.Restart:
		r, err = c.RestartAgent(ctx, &agentsv1.RestartAgentRequest{Id: id, Etag: etag})
	case agents.Revoke:
		r, err = c.RevokeAgent(ctx, &agentsv1.RevokeAgentRequest{Id: id, Etag: etag})
	default:
		return nil, fmt.Errorf("no RPC for %s", action)
	}
	if err != nil {
		return nil, err
	}
	return r.GetAgent(), nil
}

// pathTo lists the actions that bring a new agent to a state.
var pathTo = map[agents.State][]agents.Action{
	agents.Draft:       nil,
	agents.Provisioned: {agents.Provision},
	agents.Deployed:    {agents.Provision, agents.Deploy},
	agents.Running:     {agents.Provision, agents.Deploy, agents.Start},
	agents.Stopped:     {agents.Provision, agents.Deploy, agents.Start, agents.Stop},
	agents.Suspended:   {agents.Provision, agents.Deploy, agents.Start, agents.Suspend},
	agents.Errored:     {agents.Provision}, // then a recorded failure
	agents.Revoked:     {agents.Revoke},
}

func (e *env) bringTo(t *testing.T, a *agentsv1.Agent, s agents.State) *agentsv1.Agent {
	t.Helper()
	ctx := context.Background()
	for _, action := range pathTo[s] {
		var err error
		if a, err = e.act(ctx, action, a.GetId(), a.GetEtag()); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	if s == agents.Errored {
		if _, _, err := e.domain.Fail(ctx, uuid.MustParse(a.GetId()), &agents.RuntimeError{Class: "configuration", Code: "BINARY_NOT_FOUND",
			Message: "agent binary missing", Details: map[string]string{"binary": "/nope"}}); err != nil {
			t.Fatal(err)
		}
		got, err := e.client.GetAgent(ctx, &agentsv1.GetAgentRequest{Id: a.GetId()})
		if err != nil {
			t.Fatal(err)
		}
		a = got.GetAgent()
	}
	if want := "AGENT_STATE_" + string(s); a.GetState().String() != want {
		t.Fatalf("agent is %s; want %s", a.GetState(), want)
	}
	return a
}

func (e *env) history(t *testing.T, id string) []*agentsv1.StateTransition {
	t.Helper()
	var out []*agentsv1.StateTransition
	token := ""
	for {
		resp, err := e.client.ListStateHistory(context.Background(), &agentsv1.ListStateHistoryRequest{AgentId: id, PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatalf("ListStateHistory = %v", err)
		}
		out = append(out, resp.GetTransitions()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out
		}
	}
}

// TestLifecycleEveryPair drives an agent into each state and tries each
// action through the real gRPC API.
func TestLifecycleEveryPair(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	for _, from := range agents.States {
		for _, action := range agents.Actions {
			name := strings.ToLower(fmt.Sprintf("p-%s-%s", from, action))
			t.Run(string(from)+"/"+string(action), func(t *testing.T) {
				t.Parallel()
				a := e.bringTo(t, e.create(t, name, agentsv1.AgentKind_AGENT_KIND_BLANK), from)
				before := e.history(t, a.GetId())
				got, err := e.act(context.Background(), action, a.GetId(), a.GetEtag())
				after := e.history(t, a.GetId())
				to, legal := agents.Next(from, action)
				if legal != nil {
					if status.Code(err) != codes.FailedPrecondition {
						t.Fatalf("%s on %s: err = %v; want FailedPrecondition", action, from, err)
					}
					if !strings.Contains(status.Convert(err).Message(), string(from)) {
						t.Errorf("error %q does not name the current state", status.Convert(err).Message())
					}
					if len(after) != len(before) {
						t.Errorf("refused action wrote history: %d entries, was %d", len(after), len(before))
					}
					return
				}
				if err != nil {
					t.Fatalf("%s on %s: %v", action, from, err)
				}
				if want := "AGENT_STATE_" + string(to); got.GetState().String() != want {
					t.Errorf("state = %s; want %s", got.GetState(), want)
				}
				if got.GetEtag() == a.GetEtag() {
					t.Errorf("etag unchanged (%s) after a transition", got.GetEtag())
				}
				if len(after) != len(before)+1 {
					t.Fatalf("history has %d entries; want %d", len(after), len(before)+1)
				}
				last := after[len(after)-1]
				if last.GetFromState().String() != "AGENT_STATE_"+string(from) || last.GetToState() != got.GetState() ||
					last.GetAction().String() != "AGENT_ACTION_"+strings.ToUpper(string(action)) || last.GetActor() == "" {
					t.Errorf("last transition = %v", last)
				}
				for i, tr := range after {
					if tr.GetSequence() != int64(i+1) {
						t.Errorf("history[%d].sequence = %d; want %d", i, tr.GetSequence(), i+1)
					}
				}
			})
		}
	}
}

// TestConflictingActions sends 50 concurrent actions with the same etag:
// exactly one wins, the rest are ABORTED, and the history has no gap or
// duplicate.
func TestConflictingActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	a := e.bringTo(t, e.create(t, "contended", agentsv1.AgentKind_AGENT_KIND_API), agents.Running)
	actions := []agents.Action{agents.Stop, agents.Suspend, agents.Restart, agents.Revoke}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     []agents.Action
		aborted int
		other   []error
	)
	start := make(chan struct{})
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			action := actions[i%len(actions)]
			_, err := e.act(context.Background(), action, a.GetId(), a.GetEtag())
			mu.Lock()
			defer mu.Unlock()
			switch status.Code(err) {
			case codes.OK:
				won = append(won, action)
			case codes.Aborted:
				aborted++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(won) != 1 || aborted != 49 || len(other) != 0 {
		t.Fatalf("won %v, aborted %d, other errors %v; want exactly one winner and 49 ABORTED", won, aborted, other)
	}
	h := e.history(t, a.GetId())
	if len(h) != 5 {
		t.Fatalf("history has %d entries; want 5 (create, provision, deploy, start, %s)", len(h), won[0])
	}
	for i, tr := range h {
		if tr.GetSequence() != int64(i+1) {
			t.Errorf("history[%d].sequence = %d; want %d", i, tr.GetSequence(), i+1)
		}
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	a := e.create(t, "updatable", agentsv1.AgentKind_AGENT_KIND_DATA)
	cfg, _ := structpb.NewStruct(map[string]any{"batch": 10.0, "sources": []any{"s3"}})
	upd := &agentsv1.Agent{Id: a.GetId(), Etag: a.GetEtag(), DisplayName: "Updatable", Config: cfg,
		Labels: map[string]string{"env": "prod"}, Tier: agentsv1.AgentTier_AGENT_TIER_CRITICAL, Name: "ignored-not-in-mask"}
	resp, err := e.client.UpdateAgent(ctx, &agentsv1.UpdateAgentRequest{Agent: upd,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "config", "labels", "tier"}}})
	if err != nil {
		t.Fatalf("UpdateAgent = %v", err)
	}
	got := resp.GetAgent()
	if got.GetDisplayName() != "Updatable" || got.GetLabels()["env"] != "prod" || got.GetTier() != agentsv1.AgentTier_AGENT_TIER_CRITICAL ||
		got.GetConfig().GetFields()["batch"].GetNumberValue() != 10 || got.GetName() != "updatable" || got.GetEtag() == a.GetEtag() {
		t.Errorf("updated agent = %v", got)
	}

	tests := []struct {
		name  string
		agent *agentsv1.Agent
		paths []string
		code  codes.Code
	}{
		{"stale etag", &agentsv1.Agent{Id: a.GetId(), Etag: a.GetEtag(), Owner: "x"}, []string{"owner"}, codes.Aborted},
		{"immutable field", &agentsv1.Agent{Id: a.GetId(), Name: "renamed"}, []string{"name"}, codes.InvalidArgument},
		{"state is not updatable", &agentsv1.Agent{Id: a.GetId()}, []string{"state"}, codes.InvalidArgument},
		{"empty mask", &agentsv1.Agent{Id: a.GetId()}, []string{}, codes.InvalidArgument},
		{"unknown agent", &agentsv1.Agent{Id: uuid.NewString(), Owner: "x"}, []string{"owner"}, codes.NotFound},
		{"bad id", &agentsv1.Agent{Id: "nope", Owner: "x"}, []string{"owner"}, codes.InvalidArgument},
		{"config too large", &agentsv1.Agent{Id: a.GetId(), Config: bigConfig(t)}, []string{"config"}, codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.UpdateAgent(ctx, &agentsv1.UpdateAgentRequest{Agent: tc.agent, UpdateMask: &fieldmaskpb.FieldMask{Paths: tc.paths}})
			if status.Code(err) != tc.code {
				t.Errorf("UpdateAgent = %v; want %s", err, tc.code)
			}
		})
	}
	now, _ := e.client.GetAgent(ctx, &agentsv1.GetAgentRequest{Id: a.GetId()})
	if !proto.Equal(now.GetAgent(), got) {
		t.Errorf("refused updates changed the agent:\n got %v\nwant %v", now.GetAgent(), got)
	}
}

func bigConfig(t *testing.T) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(map[string]any{"blob": strings.Repeat("x", agents.MaxConfigBytes)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	running := e.bringTo(t, e.create(t, "busy", agentsv1.AgentKind_AGENT_KIND_API), agents.Running)
	if _, err := e.client.DeleteAgent(ctx, &agentsv1.DeleteAgentRequest{Id: running.GetId()}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("DeleteAgent(running) = %v; want FailedPrecondition", err)
	}
	draft := e.create(t, "idle", agentsv1.AgentKind_AGENT_KIND_API)
	if _, err := e.client.DeleteAgent(ctx, &agentsv1.DeleteAgentRequest{Id: draft.GetId(), Etag: "999"}); status.Code(err) != codes.Aborted {
		t.Errorf("DeleteAgent(stale etag) = %v; want Aborted", err)
	}
	if _, err := e.client.DeleteAgent(ctx, &agentsv1.DeleteAgentRequest{Id: draft.GetId(), Etag: draft.GetEtag()}); err != nil {
		t.Fatalf("DeleteAgent(draft) = %v", err)
	}
	if _, err := e.client.GetAgent(ctx, &agentsv1.GetAgentRequest{Id: draft.GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("GetAgent(deleted) = %v; want NotFound", err)
	}
	revoked := e.bringTo(t, e.create(t, "gone", agentsv1.AgentKind_AGENT_KIND_API), agents.Revoked)
	if _, err := e.client.DeleteAgent(ctx, &agentsv1.DeleteAgentRequest{Id: revoked.GetId()}); err != nil {
		t.Errorf("DeleteAgent(revoked) = %v", err)
	}
	// A name is free again once its agent is deleted.
	e.create(t, "idle", agentsv1.AgentKind_AGENT_KIND_MEMORY)
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	kinds := []agentsv1.AgentKind{agentsv1.AgentKind_AGENT_KIND_MEMORY, agentsv1.AgentKind_AGENT_KIND_DATA, agentsv1.AgentKind_AGENT_KIND_API}
	for i := range 25 {
		a, err := e.client.CreateAgent(ctx, &agentsv1.CreateAgentRequest{Agent: &agentsv1.Agent{
			Name: fmt.Sprintf("agent-%02d", i), Kind: kinds[i%3], Description: map[bool]string{true: "Handles INVOICES_2024"}[i%5 == 0],
			Labels: map[string]string{"team": []string{"ml", "ops"}[i%2], "env": "prod"}}})
		if err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			e.bringTo(t, a.GetAgent(), agents.Running)
		}
	}
	if _, err := e.client.CreateAgent(ctx, &agentsv1.CreateAgentRequest{Agent: &agentsv1.Agent{Name: "agent-00", Kind: kinds[0]}}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("CreateAgent(duplicate name) = %v; want AlreadyExists", err)
	}

	all := func(req *agentsv1.ListAgentsRequest) ([]string, int32) {
		t.Helper()
		var names []string
		var total int32
		for {
			resp, err := e.client.ListAgents(ctx, req)
			if err != nil {
				t.Fatalf("ListAgents(%v) = %v", req, err)
			}
			for _, a := range resp.GetAgents() {
				names = append(names, a.GetName())
			}
			total = resp.GetTotalSize()
			if resp.GetNextPageToken() == "" {
				return names, total
			}
			req = proto.CloneOf(req)
			req.PageToken = resp.GetNextPageToken()
		}
	}
	names, total := all(&agentsv1.ListAgentsRequest{PageSize: 10, OrderBy: "name"})
	if len(names) != 25 || total != 25 || names[0] != "agent-00" || names[24] != "agent-24" {
		t.Errorf("by name: %d names (total %d): %v", len(names), total, names)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
	}
	names, _ = all(&agentsv1.ListAgentsRequest{PageSize: 7, OrderBy: "name desc"})
	if len(names) != 25 || names[0] != "agent-24" {
		t.Errorf("by name desc: %v", names)
	}
	names, _ = all(&agentsv1.ListAgentsRequest{PageSize: 4})
	if len(names) != 25 || names[0] != "agent-24" {
		t.Errorf("default order (newest first): %v", names)
	}
	filters := []struct {
		name string
		req  *agentsv1.ListAgentsRequest
		want int
	}{
		{"state", &agentsv1.ListAgentsRequest{States: []agentsv1.AgentState{agentsv1.AgentState_AGENT_STATE_RUNNING}}, 7},
		{"kind", &agentsv1.ListAgentsRequest{Kinds: []agentsv1.AgentKind{agentsv1.AgentKind_AGENT_KIND_DATA}}, 8},
		{"label", &agentsv1.ListAgentsRequest{LabelSelector: "team=ml"}, 13},
		{"labels", &agentsv1.ListAgentsRequest{LabelSelector: "team=ops,env=prod"}, 12},
		{"query", &agentsv1.ListAgentsRequest{Query: "invoices_2024"}, 5},
		{"query is literal", &agentsv1.ListAgentsRequest{Query: "%"}, 0},
		{"combined", &agentsv1.ListAgentsRequest{Kinds: []agentsv1.AgentKind{agentsv1.AgentKind_AGENT_KIND_MEMORY},
			States: []agentsv1.AgentState{agentsv1.AgentState_AGENT_STATE_RUNNING}}, 3},
	}
	for _, tc := range filters {
		tc.req.PageSize = 2
		if names, total := all(tc.req); len(names) != tc.want || int(total) != tc.want {
			t.Errorf("%s: %d agents (total %d); want %d", tc.name, len(names), total, tc.want)
		}
	}

	first, err := e.client.ListAgents(ctx, &agentsv1.ListAgentsRequest{PageSize: 5, OrderBy: "name"})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		req  *agentsv1.ListAgentsRequest
	}{
		{"garbage token", &agentsv1.ListAgentsRequest{PageToken: "not-a-token"}},
		{"token for another order", &agentsv1.ListAgentsRequest{PageToken: first.GetNextPageToken(), OrderBy: "name desc"}},
		{"token for another filter", &agentsv1.ListAgentsRequest{PageToken: first.GetNextPageToken(), OrderBy: "name", Query: "x"}},
		{"page size", &agentsv1.ListAgentsRequest{PageSize: 501}},
		{"order", &agentsv1.ListAgentsRequest{OrderBy: "state; drop table"}},
		{"selector", &agentsv1.ListAgentsRequest{LabelSelector: "team"}},
		{"unknown state", &agentsv1.ListAgentsRequest{States: []agentsv1.AgentState{42}}},
	}
	for _, tc := range bad {
		if _, err := e.client.ListAgents(ctx, tc.req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: ListAgents = %v; want InvalidArgument", tc.name, err)
		}
	}
}

// TestCreateValidation checks that each kind of bad agent is refused with the
// field named, and that nothing is written.
func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	tests := []struct {
		name  string
		agent *agentsv1.Agent
		field string
	}{
		{"missing agent", nil, "agent"},
		{"empty name", &agentsv1.Agent{Kind: agentsv1.AgentKind_AGENT_KIND_API}, "agent.name"},
		{"upper case", &agentsv1.Agent{Name: "Alpha", Kind: agentsv1.AgentKind_AGENT_KIND_API}, "agent.name"},
		{"leading dash", &agentsv1.Agent{Name: "-alpha", Kind: agentsv1.AgentKind_AGENT_KIND_API}, "agent.name"},
		{"too long", &agentsv1.Agent{Name: strings.Repeat("a", 64), Kind: agentsv1.AgentKind_AGENT_KIND_API}, "agent.name"},
		{"no kind", &agentsv1.Agent{Name: "alpha"}, "agent.kind"},
		{"unknown kind", &agentsv1.Agent{Name: "alpha", Kind: 77}, "agent.kind"},
		{"unknown tier", &agentsv1.Agent{Name: "alpha", Kind: agentsv1.AgentKind_AGENT_KIND_API, Tier: 9}, "agent.tier"},
		{"id set", &agentsv1.Agent{Id: uuid.NewString(), Name: "alpha", Kind: agentsv1.AgentKind_AGENT_KIND_API}, "agent.id"},
		{"bad label", &agentsv1.Agent{Name: "alpha", Kind: agentsv1.AgentKind_AGENT_KIND_API, Labels: map[string]string{"a b": "c"}}, "agent.labels"},
		{"config too large", &agentsv1.Agent{Name: "alpha", Kind: agentsv1.AgentKind_AGENT_KIND_API, Config: bigConfig(t)}, "agent.config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.CreateAgent(ctx, &agentsv1.CreateAgentRequest{Agent: tc.agent})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.field) {
				t.Errorf("CreateAgent = %v; want InvalidArgument naming %s", err, tc.field)
			}
		})
	}
	resp, err := e.client.ListAgents(ctx, &agentsv1.ListAgentsRequest{})
	if err != nil || resp.GetTotalSize() != 0 {
		t.Errorf("after refused creates: %d agents (%v); want none", resp.GetTotalSize(), err)
	}
	var rows int
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM agents.outbox) + (SELECT count(*) FROM agents.state_history)`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("refused creates left %d outbox/history rows (%v)", rows, err)
	}
}

// TestOutboxExactlyOnce commits changes while no relay runs (as if the process
// died after commit), pretends a relay had published part of them before
// dying, then starts the relay: every event is on the stream exactly once, in
// order.
func TestOutboxExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx := context.Background()
	a := e.bringTo(t, e.create(t, "durable", agentsv1.AgentKind_AGENT_KIND_MONITORING), agents.Running)
	if _, err := e.act(ctx, agents.Stop, a.GetId(), ""); err != nil {
		t.Fatal(err)
	}
	const want = 5 // created, provisioned, deployed, started, stopped
	stream, err := e.js.Stream(ctx, events.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, stream); n != 0 {
		t.Fatalf("stream has %d messages before any relay ran", n)
	}
	// The crashed relay's partial work: the first two rows published, not deleted.
	rows, err := e.pool.Query(ctx, `SELECT id, subject, headers, payload FROM agents.outbox ORDER BY seq LIMIT 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		var subject string
		var headers map[string]string
		var payload []byte
		if err := rows.Scan(&id, &subject, &headers, &payload); err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(subject)
		for k, v := range headers {
			msg.Header.Set(k, v)
		}
		msg.Data = payload
		if _, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id.String())); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go e.svc.RunRelay(rctx) //nolint:errcheck
	waitFor(t, 10*time.Second, func() bool {
		var n int
		e.pool.QueryRow(ctx, `SELECT count(*) FROM agents.outbox`).Scan(&n) //nolint:errcheck
		return n == 0
	})
	if n := streamMsgs(t, stream); n != want {
		t.Fatalf("stream has %d messages; want %d", n, want)
	}
	// Every event once, in the agent's order.
	cons, err := e.js.OrderedConsumer(ctx, events.Stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(want, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	var types []string
	var seqs []int64
	for msg := range batch.Messages() {
		id := msg.Headers().Get(events.HeaderID)
		if ids[id] {
			t.Errorf("event %s published twice", id)
		}
		ids[id] = true
		types = append(types, msg.Headers().Get(events.HeaderType))
		if msg.Headers().Get(events.HeaderSubject) != "agents/"+a.GetId() {
			t.Errorf("ce-subject = %q", msg.Headers().Get(events.HeaderSubject))
		}
		var sc agentsv1.AgentStateChanged
		if msg.Headers().Get(events.HeaderType) == string(proto.MessageName(&sc)) {
			if err := proto.Unmarshal(msg.Data(), &sc); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, sc.GetTransition().GetSequence())
		}
	}
	if types[0] != "portal.agents.v1.AgentCreated" || len(seqs) != 4 || fmt.Sprint(seqs) != "[2 3 4 5]" {
		t.Errorf("events %v with transition sequences %v; want AgentCreated then sequences 2..5", types, seqs)
	}
}

func streamMsgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInterruptedBulkIsClosed: a bulk operation a previous process left
// running is closed at start-up, with the agents it had not reached skipped.
func TestInterruptedBulkIsClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ob, _ := outbox.New(store.OutboxTable)
	st := store.New(e.pool, ob, grpcapi.Events{})
	done := e.create(t, "reached", agentsv1.AgentKind_AGENT_KIND_BLANK)
	left := e.create(t, "not-reached", agentsv1.AgentKind_AGENT_KIND_BLANK)
	b := &agents.BulkOperation{ID: uuid.NewString(), Action: agents.Provision, Status: agents.BulkRunning, Parallelism: 5,
		Succeeded: 1, Actor: "someone", CreateTime: time.Now().UTC(), Results: []agents.BulkResult{
			{AgentID: uuid.MustParse(done.GetId()), Name: "reached", Outcome: agents.OutcomeSucceeded},
			{AgentID: uuid.MustParse(left.GetId()), Name: "not-reached", Outcome: agents.OutcomePending},
		}}
	if err := st.SaveBulk(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	go e.domain.RunOperations(ctx) //nolint:errcheck
	waitFor(t, 5*time.Second, func() bool {
		got, err := st.GetBulk(ctx, b.ID)
		return err == nil && got.Status != agents.BulkRunning
	})
	got, _ := e.client.GetBulkOperation(ctx, &agentsv1.GetBulkOperationRequest{Id: b.ID})
	bo := got.GetBulkOperation()
	if bo.GetStatus() != agentsv1.BulkStatus_BULK_STATUS_PARTIALLY_FAILED || bo.GetSkipped() != 1 || bo.GetSucceeded() != 1 ||
		bo.GetResults()[1].GetOutcome() != "skipped" || !strings.Contains(bo.GetResults()[1].GetReason(), "restart") || bo.GetDoneTime() == nil {
		t.Errorf("bulk operation after restart = %v", bo)
	}
}

// testKey signs the identities the tests call with.
var testKey = authtest.Key()
