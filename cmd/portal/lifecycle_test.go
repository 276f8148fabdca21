package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/platformportal/portal/platform/pgtest"
)

// createWith creates an agent from a JSON body.
func createWith(t testing.TB, base string, body map[string]any) agentJSON {
	t.Helper()
	var r agentResp
	if code := call(t, "POST", base+"/api/v1/agents", body, &r); code != http.StatusOK {
		t.Fatalf("create %v: HTTP %d: %s", body["name"], code, r.Message)
	}
	return r.Agent
}

// TestErrorsExplainThemselves: failures an operator can see end in ERRORED
// with a class, a probable cause and suggested actions the API executes.
func TestErrorsExplainThemselves(t *testing.T) {
	t.Parallel()
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"PROVISIONING_START_TIMEOUT": "3s"})

	t.Run("binary missing", func(t *testing.T) {
		a := createWith(t, p.base, map[string]any{"name": "no-binary", "kind": "AGENT_KIND_BLANK",
			"runtime": map[string]any{"image": "/opt/missing/agent"}})
		a = act(t, p.base, a, "provision")
		a = act(t, p.base, a, "deploy")
		if a.State != "AGENT_STATE_ERRORED" || a.Error == nil || a.Error.Code != "BINARY_NOT_FOUND" || a.Error.Class != "configuration" ||
			!strings.Contains(a.Error.ProbableCause, "/opt/missing/agent") {
			t.Fatalf("agent %+v; want ERRORED with BINARY_NOT_FOUND explained", a)
		}
		// Fix the setting, then carry out the suggestion through the API.
		var r agentResp
		if code := call(t, "PATCH", p.base+"/api/v1/agents/"+a.ID, map[string]any{"etag": a.Etag, "runtime": map[string]any{"image": ""}}, &r); code != 200 {
			t.Fatalf("update runtime: HTTP %d %s", code, r.Message)
		}
		if code := call(t, "POST", p.base+"/api/v1/agents/"+a.ID+":remediate", map[string]any{"suggestionId": "reprovision"}, &r); code != 200 {
			t.Fatalf("remediate: HTTP %d %s", code, r.Message)
		}
		a = settle(t, p.base, r.Agent)
		a = act(t, p.base, a, "deploy")
		a = act(t, p.base, a, "start")
		if a.State != "AGENT_STATE_RUNNING" || a.Error != nil {
			t.Fatalf("after remediation: %+v; want RUNNING without error", a)
		}
	})

	t.Run("impossible limits", func(t *testing.T) {
		a := createWith(t, p.base, map[string]any{"name": "tiny", "kind": "AGENT_KIND_DATA",
			"runtime": map[string]any{"memoryBytes": "1048576"}})
		a = act(t, p.base, a, "provision")
		a = act(t, p.base, a, "deploy")
		if a.State != "AGENT_STATE_ERRORED" || a.Error == nil || a.Error.Code != "INVALID_LIMITS" || a.Error.Class != "configuration" ||
			a.Error.SuggestedActions[0].ID != "reprovision" {
			t.Fatalf("agent %+v; want ERRORED with INVALID_LIMITS and reprovision first", a)
		}
	})

	t.Run("port taken", func(t *testing.T) {
		// Taken after deploy (which provisions again and so would step around a
		// port taken earlier), before start.
		a := createWith(t, p.base, map[string]any{"name": "port-clash", "kind": "AGENT_KIND_API"})
		a = act(t, p.base, a, "provision")
		a = act(t, p.base, a, "deploy")
		var w struct {
			Workload struct {
				Spec struct {
					Ports []int `json:"ports"`
				} `json:"spec"`
				Instances []struct {
					State  string `json:"state"`
					Handle string `json:"handle"`
				} `json:"instances"`
			} `json:"workload"`
		}
		call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/workload", nil, &w)
		port := w.Workload.Spec.Ports[0]
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		a = act(t, p.base, a, "start")
		if a.State != "AGENT_STATE_ERRORED" || a.Error == nil || a.Error.Code != "PORT_IN_USE" || a.Error.Class != "configuration" ||
			a.Error.Details["port"] != fmt.Sprint(port) || a.Error.SuggestedActions[0].ID != "pick-another-port" {
			t.Fatalf("agent %+v; want ERRORED with PORT_IN_USE on %d and pick-another-port first", a, port)
		}
		call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/workload", nil, &w)
		for _, in := range w.Workload.Instances {
			if in.Handle != "" {
				t.Errorf("instance %+v runs after the failed start", in)
			}
		}
		var r agentResp
		if code := call(t, "POST", p.base+"/api/v1/agents/"+a.ID+":remediate", map[string]any{"suggestionId": "pick-another-port"}, &r); code != 200 {
			t.Fatalf("remediate: HTTP %d %s", code, r.Message)
		}
		a = settle(t, p.base, r.Agent)
		a = act(t, p.base, a, "deploy")
		a = act(t, p.base, a, "start")
		call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/workload", nil, &w)
		if a.State != "AGENT_STATE_RUNNING" || w.Workload.Spec.Ports[0] == port {
			t.Fatalf("after picking another port: %+v on %v", a, w.Workload.Spec.Ports)
		}
	})

	t.Run("never ready", func(t *testing.T) {
		a := createWith(t, p.base, map[string]any{"name": "never-ready", "kind": "AGENT_KIND_API",
			"config": map[string]any{"refuse_ready": true}})
		for _, action := range []string{"provision", "deploy"} {
			a = act(t, p.base, a, action)
		}
		a = act(t, p.base, a, "start")
		if a.State != "AGENT_STATE_ERRORED" || a.Error == nil || a.Error.Code != "NOT_READY" || a.Error.Class != "transient" {
			t.Fatalf("agent %+v; want ERRORED NOT_READY", a)
		}
		var ids []string
		for _, s := range a.Error.SuggestedActions {
			ids = append(ids, s.ID)
		}
		if !strings.Contains(strings.Join(ids, ","), "view-logs") || !strings.Contains(strings.Join(ids, ","), "restart") {
			t.Errorf("suggestions %v; want view-logs and restart", ids)
		}
		// Nothing left running: the workload's instances are stopped.
		var w struct {
			Workload struct {
				Instances []struct {
					State  string `json:"state"`
					Handle string `json:"handle"`
				} `json:"instances"`
			} `json:"workload"`
		}
		call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/workload", nil, &w)
		for _, in := range w.Workload.Instances {
			if in.State != "stopped" || in.Handle != "" {
				t.Errorf("instance %+v left running after a failed start", in)
			}
		}
	})

	t.Run("crash loop", func(t *testing.T) {
		// crash_after 1: each instance exits after its first task.
		a := createWith(t, p.base, map[string]any{"name": "crashy", "kind": "AGENT_KIND_BLANK",
			"config": map[string]any{"crash_after": 1}})
		for _, action := range []string{"provision", "deploy", "start"} {
			a = act(t, p.base, a, action)
		}
		if a.State != "AGENT_STATE_RUNNING" {
			t.Fatalf("agent %+v; want RUNNING", a)
		}
		// Feed it tasks until the supervisor reports a crash loop and the
		// agent is ERRORED by the failure event.
		nc, err := nats.Connect(p.nats)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		deadline := time.Now().Add(30 * time.Second)
		for a.State != "AGENT_STATE_ERRORED" {
			if time.Now().After(deadline) {
				t.Fatalf("agent %+v not ERRORED after 30s of crashes", a)
			}
			nc.Publish("agents."+a.ID+".tasks", []byte(`{"type":"echo","input":{}}`)) //nolint:errcheck
			time.Sleep(100 * time.Millisecond)
			var r agentResp
			call(t, "GET", p.base+"/api/v1/agents/"+a.ID, nil, &r)
			a = r.Agent
		}
		if a.Error == nil || a.Error.Code != "CRASH_LOOP" || a.Error.SuggestedActions[0].ID != "view-logs" ||
			!strings.Contains(a.Error.SuggestedActions[0].Link, "/logs") {
			t.Fatalf("error %+v; want CRASH_LOOP with view-logs first", a.Error)
		}
		// The logs it points to hold the crash.
		var logs struct {
			Lines []struct {
				Message string `json:"message"`
			} `json:"lines"`
		}
		if code := call(t, "GET", p.base+a.Error.SuggestedActions[0].Link, nil, &logs); code != 200 || len(logs.Lines) == 0 {
			t.Fatalf("logs: HTTP %d, %d lines", code, len(logs.Lines))
		}
		a = act(t, p.base, a, "stop")
		if a.State != "AGENT_STATE_STOPPED" {
			t.Fatalf("stop after crash loop: %+v", a)
		}
	})
}

// TestBulkStartWithFailures: 30 agents, 10 of which cannot start; the
// parallelism limit holds, every agent reports progress, the summary is
// right, and a rollback threshold returns the others to where they were.
func TestBulkStartWithFailures(t *testing.T) {
	t.Parallel()
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"PROVISIONING_START_TIMEOUT": "2s"})
	var (
		ids  []string
		bad  = map[string]bool{}
		mu   sync.Mutex
		wg   sync.WaitGroup
		sema = make(chan struct{}, 8)
	)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sema <- struct{}{}
			defer func() { <-sema }()
			body := map[string]any{"name": fmt.Sprintf("bulk-%02d", i), "kind": "AGENT_KIND_BLANK", "labels": map[string]any{"fleet": "bulk"}}
			if i%3 == 0 { // never becomes ready: its start fails
				body["config"] = map[string]any{"refuse_ready": true}
			}
			a := createWith(t, p.base, body)
			for _, action := range []string{"provision", "deploy"} {
				a = act(t, p.base, a, action)
			}
			mu.Lock()
			ids = append(ids, a.ID)
			bad[a.ID] = i%3 == 0
			mu.Unlock()
		}()
	}
	wg.Wait()

	ws := dialWS(t, p.base)
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents", "bulkOperations"}})
	if f := ws.control(); f.Type != "subscribed" {
		t.Fatalf("subscribe: %+v", f)
	}

	run := func(rollback float64) (bulkJSON, map[string]int) {
		var r struct {
			BulkOperation bulkJSON `json:"bulkOperation"`
			Message       string   `json:"message"`
		}
		body := map[string]any{"action": "AGENT_ACTION_START", "labelSelector": "fleet=bulk", "parallelism": 4, "rollbackThreshold": rollback}
		if code := call(t, "POST", p.base+"/api/v1/agents:bulk", body, &r); code != 200 || r.BulkOperation.Total != 30 {
			t.Fatalf("bulk: HTTP %d %s %+v", code, r.Message, r.BulkOperation)
		}
		id := r.BulkOperation.ID
		// Follow the events: per-agent progress, and the operations the bulk
		// started, to see how many ran at once.
		running, maxRunning, progress := 0, 0, map[string]int{}
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			f := ws.event()
			switch f.EventType {
			case "portal.agents.v1.OperationChanged":
				switch f.Data.Operation.Status {
				case "OPERATION_STATUS_RUNNING":
					running++
					maxRunning = max(maxRunning, running)
				default:
					running--
				}
			case "portal.agents.v1.BulkOperationProgress":
				if f.Data.BulkOperation.ID != id {
					continue
				}
				if f.Data.Result != nil {
					progress[f.Data.Result.AgentID]++
					continue
				}
				if f.Data.BulkOperation.Status != "BULK_STATUS_RUNNING" {
					var got struct {
						BulkOperation bulkJSON `json:"bulkOperation"`
					}
					call(t, "GET", p.base+"/api/v1/bulkOperations/"+id, nil, &got)
					if maxRunning > 4 {
						t.Errorf("%d operations ran at once; the limit was 4", maxRunning)
					}
					return got.BulkOperation, progress
				}
			}
		}
		t.Fatal("bulk operation did not finish in 90s")
		return bulkJSON{}, nil
	}

	// First without rollback: 20 start, 10 fail.
	b, progress := run(0)
	if b.Status != "BULK_STATUS_PARTIALLY_FAILED" || b.Succeeded != 20 || b.Failed != 10 || b.Skipped != 0 || len(b.Results) != 30 {
		t.Fatalf("summary %+v; want 20 succeeded, 10 failed", b)
	}
	for _, r := range b.Results {
		if (r.Outcome == "failed") != bad[r.AgentID] {
			t.Errorf("agent %s: outcome %s (%s)", r.Name, r.Outcome, r.Reason)
		}
		if progress[r.AgentID] != 1 {
			t.Errorf("agent %s: %d progress events; want 1", r.Name, progress[r.AgentID])
		}
	}

	// Bring the good ones back to STOPPED and the bad ones to STOPPED too, then
	// start them all again with a threshold that 10 of 30 passes.
	for _, id := range ids {
		var r agentResp
		call(t, "GET", p.base+"/api/v1/agents/"+id, nil, &r)
		act(t, p.base, r.Agent, "stop")
	}
	b, _ = run(0.2)
	if b.Status != "BULK_STATUS_ROLLED_BACK" || !b.RolledBack || b.Failed != 10 {
		t.Fatalf("summary %+v; want ROLLED_BACK with 10 failed", b)
	}
	for _, r := range b.Results {
		want := "rolled_back"
		if bad[r.AgentID] {
			want = "failed"
		}
		if r.Outcome != want {
			t.Errorf("agent %s: outcome %s; want %s", r.Name, r.Outcome, want)
		}
		var a agentResp
		call(t, "GET", p.base+"/api/v1/agents/"+r.AgentID, nil, &a)
		a.Agent = settle(t, p.base, a.Agent)
		if !bad[r.AgentID] && a.Agent.State != "AGENT_STATE_STOPPED" {
			t.Errorf("agent %s is %s after the rollback; want STOPPED, its previous state", r.Name, a.Agent.State)
		}
	}

	// Bad requests.
	var e agentResp
	if code := call(t, "POST", p.base+"/api/v1/agents:bulk", map[string]any{"action": "AGENT_ACTION_START", "labelSelector": "fleet=none"}, &e); code != 400 {
		t.Errorf("bulk over no agents: HTTP %d %s; want 400", code, e.Message)
	}
	if code := call(t, "POST", p.base+"/api/v1/agents:bulk", map[string]any{"action": "AGENT_ACTION_FAIL", "labelSelector": "fleet=bulk"}, &e); code != 400 {
		t.Errorf("bulk FAIL: HTTP %d %s; want 400", code, e.Message)
	}
	if code := call(t, "POST", p.base+"/api/v1/agents:bulk", map[string]any{"action": "AGENT_ACTION_STOP", "parallelism": 500, "labelSelector": "fleet=bulk"}, &e); code != 400 {
		t.Errorf("bulk parallelism 500: HTTP %d %s; want 400", code, e.Message)
	}
}

type bulkJSON struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Total      int    `json:"total"`
	Succeeded  int    `json:"succeeded"`
	Failed     int    `json:"failed"`
	Skipped    int    `json:"skipped"`
	RolledBack bool   `json:"rolledBack"`
	Results    []struct {
		AgentID string `json:"agentId"`
		Name    string `json:"name"`
		Outcome string `json:"outcome"`
		Reason  string `json:"reason"`
	} `json:"results"`
}
