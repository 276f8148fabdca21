package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
)

// demoAgent is one agent of the demo fleet.
type demoAgent struct {
	name, display string
	kind          agentsv1.AgentKind
	config        map[string]any
}

// demoFleet is 14 agents across the six kinds; a few misbehave a little, so
// the fleet shows errors, latency and a recovery now and then.
var demoFleet = []demoAgent{
	{"demo-memory-1", "Customer memory", agentsv1.AgentKind_AGENT_KIND_MEMORY, nil},
	{"demo-memory-2", "Session memory", agentsv1.AgentKind_AGENT_KIND_MEMORY, map[string]any{"latency_ms": 40}},
	{"demo-orchestrator-1", "Order pipeline", agentsv1.AgentKind_AGENT_KIND_ORCHESTRATION, nil},
	{"demo-orchestrator-2", "Refund workflow", agentsv1.AgentKind_AGENT_KIND_ORCHESTRATION, map[string]any{"fail_rate": 0.05}},
	{"demo-api-1", "Payments API", agentsv1.AgentKind_AGENT_KIND_API, nil},
	{"demo-api-2", "Shipping API", agentsv1.AgentKind_AGENT_KIND_API, map[string]any{"api_latency_ms": 80}},
	{"demo-api-3", "CRM API", agentsv1.AgentKind_AGENT_KIND_API, map[string]any{"fail_rate": 0.1}},
	{"demo-data-1", "Invoice reader", agentsv1.AgentKind_AGENT_KIND_DATA, nil},
	{"demo-data-2", "Usage aggregator", agentsv1.AgentKind_AGENT_KIND_DATA, map[string]any{"latency_ms": 120}},
	{"demo-data-3", "Report builder", agentsv1.AgentKind_AGENT_KIND_DATA, map[string]any{"crash_after": 400}},
	{"demo-monitor-1", "Uptime monitor", agentsv1.AgentKind_AGENT_KIND_MONITORING, nil},
	{"demo-monitor-2", "SLA watcher", agentsv1.AgentKind_AGENT_KIND_MONITORING, map[string]any{"fail_rate": 0.02}},
	{"demo-blank-1", "Sandbox", agentsv1.AgentKind_AGENT_KIND_BLANK, nil},
	{"demo-blank-2", "Echo", agentsv1.AgentKind_AGENT_KIND_BLANK, map[string]any{"leak_mb_per_task": 0.01}},
}

// runDemo creates, deploys and starts the demo fleet through the API (so it
// runs the same path an operator's requests do), then keeps it busy with
// tasks until ctx ends.
func runDemo(ctx context.Context, conn grpc.ClientConnInterface, nc *nats.Conn, healthURL string, logger *slog.Logger) {
	client := agentsv1.NewAgentServiceClient(conn)
	start := time.Now()
	running := make([]*agentsv1.Agent, 0, len(demoFleet))
	for _, d := range demoFleet {
		a, err := demoUp(ctx, client, d)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("demo agent not started", "name", d.name, "error", err)
			}
			continue
		}
		running = append(running, a)
	}
	logger.Info("demo fleet running", "agents", len(running), "took_ms", time.Since(start).Milliseconds())
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if len(running) == 0 {
			continue
		}
		a := running[rand.IntN(len(running))]
		task, _ := json.Marshal(demoTask(a, healthURL))
		nc.Publish("agents."+a.GetId()+".tasks", task) //nolint:errcheck // a lost demo task is no matter
	}
}

func demoUp(ctx context.Context, client agentsv1.AgentServiceClient, d demoAgent) (*agentsv1.Agent, error) {
	cfg, err := structpb.NewStruct(d.config)
	if err != nil {
		return nil, err
	}
	resp, err := client.CreateAgent(ctx, &agentsv1.CreateAgentRequest{Agent: &agentsv1.Agent{
		Name: d.name, DisplayName: d.display, Kind: d.kind, Version: "1.0.0", Config: cfg, Owner: "demo",
		Labels: map[string]string{"demo": "true"}}})
	var a *agentsv1.Agent
	switch status.Code(err) {
	case codes.OK:
		a = resp.GetAgent()
	case codes.AlreadyExists: // a previous run made it
		list, lerr := client.ListAgents(ctx, &agentsv1.ListAgentsRequest{Query: d.name, PageSize: 10})
		if lerr != nil {
			return nil, lerr
		}
		for _, x := range list.GetAgents() {
			if x.GetName() == d.name {
				a = x
			}
		}
		if a == nil {
			return nil, fmt.Errorf("agent %s exists but cannot be found", d.name)
		}
	default:
		return nil, err
	}
	// Walk it to RUNNING from wherever it is (a previous run may have left it
	// anywhere): each step is an operation, awaited before the next.
	tried := false
	for a.GetState() != agentsv1.AgentState_AGENT_STATE_RUNNING {
		if a.GetPendingOperation() == "" {
			tried = tried || a.GetState() == agentsv1.AgentState_AGENT_STATE_ERRORED
			action, ok := demoSteps[a.GetState()]
			if !ok {
				return nil, fmt.Errorf("agent %s is %s", d.name, a.GetState())
			}
			op, err := demoAct(ctx, client, a.GetId(), action)
			if err != nil {
				return nil, err
			}
			a.PendingOperation = op.GetId()
		}
		if _, err := client.WaitOperation(ctx, &agentsv1.WaitOperationRequest{Id: a.GetPendingOperation()}); err != nil {
			return nil, err
		}
		r, err := client.GetAgent(ctx, &agentsv1.GetAgentRequest{Id: a.GetId()})
		if err != nil {
			return nil, err
		}
		a = r.GetAgent()
		// One recovery attempt: an agent that fails again is left ERRORED.
		if a.GetState() == agentsv1.AgentState_AGENT_STATE_ERRORED && a.GetPendingOperation() == "" && tried {
			return nil, fmt.Errorf("%s: %s", a.GetError().GetCode(), a.GetError().GetMessage())
		}
	}
	return a, nil
}

// demoSteps is the next action towards RUNNING from each state.
var demoSteps = map[agentsv1.AgentState]agentsv1.AgentAction{
	agentsv1.AgentState_AGENT_STATE_DRAFT:       agentsv1.AgentAction_AGENT_ACTION_PROVISION,
	agentsv1.AgentState_AGENT_STATE_PROVISIONED: agentsv1.AgentAction_AGENT_ACTION_DEPLOY,
	agentsv1.AgentState_AGENT_STATE_DEPLOYED:    agentsv1.AgentAction_AGENT_ACTION_START,
	agentsv1.AgentState_AGENT_STATE_STOPPED:     agentsv1.AgentAction_AGENT_ACTION_START,
	agentsv1.AgentState_AGENT_STATE_SUSPENDED:   agentsv1.AgentAction_AGENT_ACTION_RESUME,
	agentsv1.AgentState_AGENT_STATE_ERRORED:     agentsv1.AgentAction_AGENT_ACTION_RESTART,
}

// demoAct starts one lifecycle action.
func demoAct(ctx context.Context, client agentsv1.AgentServiceClient, id string, action agentsv1.AgentAction) (*agentsv1.Operation, error) {
	const reason = "demo"
	switch action {
	case agentsv1.AgentAction_AGENT_ACTION_PROVISION:
		r, err := client.ProvisionAgent(ctx, &agentsv1.ProvisionAgentRequest{Id: id, Reason: reason})
		return r.GetOperation(), err
	case agentsv1.AgentAction_AGENT_ACTION_DEPLOY:
		r, err := client.DeployAgent(ctx, &agentsv1.DeployAgentRequest{Id: id, Reason: reason})
		return r.GetOperation(), err
	case agentsv1.AgentAction_AGENT_ACTION_START:
		r, err := client.StartAgent(ctx, &agentsv1.StartAgentRequest{Id: id, Reason: reason})
		return r.GetOperation(), err
	case agentsv1.AgentAction_AGENT_ACTION_RESUME:
		r, err := client.ResumeAgent(ctx, &agentsv1.ResumeAgentRequest{Id: id, Reason: reason})
		return r.GetOperation(), err
	default:
		r, err := client.RestartAgent(ctx, &agentsv1.RestartAgentRequest{Id: id, Reason: reason})
		return r.GetOperation(), err
	}
}

func demoTask(a *agentsv1.Agent, healthURL string) map[string]any {
	switch a.GetKind() {
	case agentsv1.AgentKind_AGENT_KIND_MEMORY:
		return map[string]any{"type": "remember", "input": map[string]any{"key": fmt.Sprintf("k%d", rand.IntN(100)), "value": rand.IntN(1000)}}
	case agentsv1.AgentKind_AGENT_KIND_ORCHESTRATION:
		return map[string]any{"type": "run", "input": map[string]any{"steps": []any{
			map[string]any{"name": "fetch", "sleep_ms": 5}, map[string]any{"name": "score", "sleep_ms": 10}, map[string]any{"name": "store"}}}}
	case agentsv1.AgentKind_AGENT_KIND_API:
		return map[string]any{"type": "call", "input": map[string]any{"endpoint": "/orders", "payload": map[string]any{"id": rand.IntN(1e6)}}}
	case agentsv1.AgentKind_AGENT_KIND_DATA:
		return map[string]any{"type": "transform", "input": map[string]any{"records": []any{rand.IntN(10), rand.IntN(10), rand.IntN(10)}, "op": "sum"}}
	case agentsv1.AgentKind_AGENT_KIND_MONITORING:
		return map[string]any{"type": "check", "input": map[string]any{"targets": []any{healthURL}}}
	default:
		return map[string]any{"type": "echo", "input": map[string]any{"n": rand.IntN(100)}}
	}
}
