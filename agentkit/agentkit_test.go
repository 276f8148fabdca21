package agentkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/platformportal/portal/agentkit"
	"github.com/platformportal/portal/agentkit/internal/agenttest"
)

func TestTasks(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{})
	results := a.results(t)

	tests := []struct {
		name string
		req  string
		want agentkit.Result // DurationMs is not compared
		// generatedID: the sender gave no id, so any non-empty one will do.
		generatedID bool
		// errPrefix: the error text starts with it (the rest is encoding/json's).
		errPrefix string
	}{
		{
			name: "echo",
			req:  `{"id":"t-1","type":"echo","input":{"a":1}}`,
			want: agentkit.Result{TaskID: "t-1", Type: "echo", OK: true, Output: json.RawMessage(`{"a":1}`)},
		},
		{
			name: "no input",
			req:  `{"id":"t-2","type":"echo"}`,
			want: agentkit.Result{TaskID: "t-2", Type: "echo", OK: true, Output: json.RawMessage(`null`)},
		},
		{
			name: "no output",
			req:  `{"id":"t-3","type":"nothing"}`,
			want: agentkit.Result{TaskID: "t-3", Type: "nothing", OK: true, Output: json.RawMessage(`null`)},
		},
		{
			name: "error keeps partial output",
			req:  `{"id":"t-4","type":"fail"}`,
			want: agentkit.Result{TaskID: "t-4", Type: "fail", Output: json.RawMessage(`{"partial":true}`), Error: "asked to fail"},
		},
		{
			name: "panic is an error result",
			req:  `{"id":"t-5","type":"panic"}`,
			want: agentkit.Result{TaskID: "t-5", Type: "panic", Error: "handler panicked: boom"},
		},
		{
			name:        "generated id",
			req:         `{"type":"echo","input":"x"}`,
			want:        agentkit.Result{Type: "echo", OK: true, Output: json.RawMessage(`"x"`)},
			generatedID: true,
		},
		{
			name:        "malformed JSON",
			req:         `{"id":`,
			generatedID: true,
			errPrefix:   "malformed task: ",
		},
		{
			name:      "type not a string",
			req:       `{"id":"t-8","type":7}`,
			want:      agentkit.Result{TaskID: "t-8"},
			errPrefix: "malformed task: ",
		},
		{
			name: "missing type",
			req:  `{"id":"t-9"}`,
			want: agentkit.Result{TaskID: "t-9", Error: "malformed task: type is required"},
		},
	}
	// Sequential: the subtests share one agent and its results stream.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := a.NC.Request(agentkit.TasksSubject(a.ID), []byte(tc.req), 10*time.Second)
			if err != nil {
				t.Fatalf("request %s: %v", tc.req, err)
			}
			var got agentkit.Result
			if err := json.Unmarshal(msg.Data, &got); err != nil {
				t.Fatalf("decode reply %s: %v", msg.Data, err)
			}
			if got.DurationMs < 0 {
				t.Errorf("durationMs = %v, want >= 0", got.DurationMs)
			}
			replyID := got.TaskID
			got.DurationMs = 0
			if tc.generatedID {
				if got.TaskID == "" {
					t.Error("taskId is empty, want a generated id")
				}
				got.TaskID = ""
			}
			if tc.errPrefix != "" {
				if !strings.HasPrefix(got.Error, tc.errPrefix) {
					t.Errorf("error = %q, want prefix %q", got.Error, tc.errPrefix)
				}
				got.Error = ""
			}
			want := tc.want
			want.AgentID, want.Instance = a.ID, "0"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("reply to %s (-want +got):\n%s", tc.req, diff)
			}

			// The same result, byte for byte, goes to the results subject.
			select {
			case r := <-results:
				if string(r.Data) != string(msg.Data) {
					t.Errorf("results subject got %s, want the reply %s", r.Data, msg.Data)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no result for task %s on %s", replyID, agentkit.ResultsSubject(a.ID))
			}
		})
	}
}

func TestResultWithoutReplySubject(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{})
	results := a.results(t)
	if err := a.NC.Publish(agentkit.TasksSubject(a.ID), []byte(`{"id":"fire-and-forget","type":"echo","input":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		var got agentkit.Result
		if err := json.Unmarshal(r.Data, &got); err != nil {
			t.Fatal(err)
		}
		if got.TaskID != "fire-and-forget" || !got.OK {
			t.Errorf("result = %+v, want task fire-and-forget ok", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no result on the results subject")
	}
}

func TestReplicasShareTasks(t *testing.T) {
	t.Parallel()
	natsURL := agenttest.StartNATS(t)
	id := agenttest.NewID()
	r0 := startAgent(t, agentOpts{natsURL: natsURL, id: id, instance: "0"})
	r1 := startAgent(t, agentOpts{natsURL: natsURL, id: id, instance: "1"})

	send := func(t *testing.T) map[string]int {
		t.Helper()
		counts := map[string]int{}
		for i := range 100 {
			res := r0.task(t, "echo", i)
			if !res.OK {
				t.Fatalf("task %d: %+v", i, res)
			}
			counts[res.Instance]++
		}
		return counts
	}

	if c := send(t); c["0"] == 0 || c["1"] == 0 || c["0"]+c["1"] != 100 {
		t.Fatalf("tasks per replica = %v, want both replicas to take some of 100", c)
	}

	reply := r0.control(t, agentkit.Control{Instance: "0", Pause: ptr(true)})
	if !reply.OK || !reply.Paused || reply.Instance != "0" {
		t.Fatalf("pause reply = %+v, want ok, paused, instance 0", reply)
	}
	if code, body := r0.get(t, "/readyz"); code != 503 || body["reason"] != "paused" {
		t.Errorf("paused replica /readyz = %d %v, want 503 reason paused", code, body)
	}
	if code, _ := r1.get(t, "/readyz"); code != 200 {
		t.Errorf("other replica /readyz = %d, want 200", code)
	}
	if v, _ := agenttest.MetricValue(r0.metrics(t), "agent_paused"); v != 1 {
		t.Errorf("paused replica agent_paused = %v, want 1", v)
	}
	if c := send(t); c["1"] != 100 {
		t.Fatalf("tasks per replica with 0 paused = %v, want all 100 on 1", c)
	}

	// A message for an instance that does not exist is ignored by all.
	if _, err := r0.NC.Request(agentkit.ControlSubject(id), []byte(`{"instance":"9","pause":true}`), 200*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("control for instance 9: err = %v, want %v", err, nats.ErrTimeout)
	}

	reply = r0.control(t, agentkit.Control{Instance: "0", Pause: ptr(false)})
	if !reply.OK || reply.Paused {
		t.Fatalf("resume reply = %+v, want ok, not paused", reply)
	}
	r0.waitStatus(t, "/readyz", 200)
	if c := send(t); c["0"] == 0 || c["1"] == 0 {
		t.Fatalf("tasks per replica after resume = %v, want both to take some", c)
	}
}

func TestPauseBeforeReady(t *testing.T) {
	t.Parallel()
	// Paused during the startup delay, the agent must not subscribe when the
	// delay ends.
	a := startAgent(t, agentOpts{config: `{"startup_delay_ms":300}`, noWait: true})
	// The HTTP address is known before the agent has connected to NATS.
	agenttest.Eventually(t, 5*time.Second, func() error {
		msg, err := a.NC.Request(agentkit.ControlSubject(a.ID), []byte(`{"pause":true}`), time.Second)
		if err != nil {
			return err
		}
		var reply agentkit.ControlReply
		if err := json.Unmarshal(msg.Data, &reply); err != nil || !reply.OK || !reply.Paused {
			return fmt.Errorf("pause reply = %s (%v), want ok and paused", msg.Data, err)
		}
		return nil
	})
	if _, ok := a.Logs.Find("agent ready"); ok {
		t.Fatal("agent ready before its 300ms startup delay ended; the test proves nothing")
	}
	a.Logs.WaitFor(t, "agent ready", 10*time.Second)
	if code, body := a.get(t, "/readyz"); code != 503 || body["reason"] != "paused" {
		t.Errorf("/readyz = %d %v, want 503 paused", code, body)
	}
	if _, err := a.NC.Request(agentkit.TasksSubject(a.ID), []byte(`{"type":"echo"}`), time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("task to a paused agent: err = %v, want %v", err, nats.ErrNoResponders)
	}
	if reply := a.control(t, agentkit.Control{Pause: ptr(false)}); !reply.OK || reply.Paused {
		t.Fatalf("resume reply = %+v", reply)
	}
	if res := a.task(t, "echo", 1); !res.OK {
		t.Errorf("task after resume = %+v, want ok", res)
	}
}

func TestNATSOutage(t *testing.T) {
	t.Parallel()
	srv := agenttest.StartNATSServer(t, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	a := startAgent(t, agentOpts{natsURL: srv.ClientURL()})

	srv.Shutdown()
	srv.WaitForShutdown()
	agenttest.Eventually(t, 10*time.Second, func() error {
		code, body, err := agenttest.TryGet(a.URL + "/readyz")
		if err != nil {
			return err
		}
		if code != 503 || !strings.Contains(string(body), "nats not connected") {
			return fmt.Errorf("/readyz = %d %s, want 503 nats not connected", code, body)
		}
		return nil
	})
	if code, _ := a.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz during the outage = %d, want 200: the process is alive", code)
	}

	// The same address again: the agent reconnects and its subscription
	// comes back by itself.
	agenttest.StartNATSServer(t, port)
	a.waitStatus(t, "/readyz", 200)
	nc := agenttest.Connect(t, srv.ClientURL())
	var res agentkit.Result
	agenttest.Request(t, nc, agentkit.TasksSubject(a.ID), map[string]any{"type": "echo", "input": 1}, &res)
	if !res.OK {
		t.Errorf("task after reconnecting = %+v, want ok", res)
	}
}

func TestConfigPatch(t *testing.T) {
	t.Parallel()
	validate := func(cfg agentkit.Config) error {
		if v, ok := cfg["color"]; ok {
			if _, ok := v.(string); !ok {
				return errors.New("color: must be a string")
			}
		}
		return nil
	}
	a := startAgent(t, agentOpts{config: `{"color":"blue"}`, validate: validate})
	base := agentkit.Config{"color": "blue"}

	reply := a.control(t, map[string]any{"config": map[string]any{"fail_rate": 1}})
	if want := (agentkit.ControlReply{OK: true, Config: agentkit.Config{"color": "blue", "fail_rate": 1.0}, Instance: "0"}); !cmp.Equal(reply, want) {
		t.Fatalf("patch reply = %+v, want %+v", reply, want)
	}
	if res := a.task(t, "echo", 1); res.OK || res.Error != "injected failure" {
		t.Errorf("task with fail_rate 1 = %+v, want error injected failure", res)
	}
	if _, got := a.get(t, "/config"); !cmp.Equal(got, map[string]any{"color": "blue", "fail_rate": 1.0}) {
		t.Errorf("/config = %v, want fail_rate 1 added", got)
	}
	// The handler sees the effective config.
	a.control(t, map[string]any{"config": map[string]any{"fail_rate": nil, "note": "hi"}})
	res := a.task(t, "config", nil)
	if !res.OK || string(res.Output) != `{"color":"blue","note":"hi"}` {
		t.Errorf("config task after removing fail_rate = %+v, want ok with the config", res)
	}
	a.control(t, map[string]any{"config": map[string]any{"note": nil}})

	tests := []struct {
		name    string
		msg     string
		wantErr string
	}{
		{"fail_rate above 1", `{"config":{"fail_rate":1.5}}`, "fail_rate"},
		{"fail_rate not a number", `{"config":{"fail_rate":"high"}}`, "fail_rate"},
		{"negative latency", `{"config":{"latency_ms":-1}}`, "latency_ms"},
		{"fractional crash_after", `{"config":{"crash_after":2.5}}`, "crash_after"},
		{"refuse_ready not a bool", `{"config":{"refuse_ready":"yes"}}`, "refuse_ready"},
		{"fail_health not a bool", `{"config":{"fail_health":1}}`, "fail_health"},
		{"negative leak", `{"config":{"leak_mb_per_task":-3}}`, "leak_mb_per_task"},
		{"startup delay a string", `{"config":{"startup_delay_ms":"5"}}`, "startup_delay_ms"},
		{"program key refused by ValidateConfig", `{"config":{"color":7}}`, "color"},
		{"one bad key refuses the whole patch", `{"config":{"latency_ms":5,"fail_rate":2}}`, "fail_rate"},
		{"bad patch with pause pauses nothing", `{"config":{"fail_rate":2},"pause":true}`, "fail_rate"},
		{"unknown field", `{"paused":true}`, `unknown field "paused"`},
		{"not JSON", `{config`, "invalid control message"},
		{"trailing data", `{} {}`, "invalid control message"},
		{"config not an object", `{"config":[1]}`, "invalid control message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var reply agentkit.ControlReply
			agenttest.Request(t, a.NC, agentkit.ControlSubject(a.ID), []byte(tc.msg), &reply)
			if reply.OK || !strings.Contains(reply.Error, tc.wantErr) {
				t.Errorf("reply = %+v, want ok false and an error naming %q", reply, tc.wantErr)
			}
			if !cmp.Equal(reply.Config, base) || reply.Paused {
				t.Errorf("reply state = %v paused %v, want unchanged %v not paused", reply.Config, reply.Paused, base)
			}
			if _, got := a.get(t, "/config"); !cmp.Equal(got, map[string]any(base)) {
				t.Errorf("/config = %v, want unchanged %v", got, base)
			}
		})
	}
	if res := a.task(t, "echo", 1); !res.OK {
		t.Errorf("task after refused patches = %+v, want ok", res)
	}
	// An empty message asks for the state.
	var state agentkit.ControlReply
	agenttest.Request(t, a.NC, agentkit.ControlSubject(a.ID), []byte{}, &state)
	if want := (agentkit.ControlReply{OK: true, Config: base, Instance: "0"}); !cmp.Equal(state, want) {
		t.Errorf("empty control message reply = %+v, want %+v", state, want)
	}
}

func TestFailRateShare(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{config: `{"fail_rate":0.5}`})
	failed := 0
	for i := range 200 {
		if res := a.task(t, "echo", i); !res.OK {
			failed++
		}
	}
	// Binomial(200, 0.5): outside 60..140 is a 1e-8 event.
	if failed < 60 || failed > 140 {
		t.Errorf("failed %d of 200 with fail_rate 0.5, want about 100", failed)
	}
}

func TestLatencyKnob(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{config: `{"latency_ms":300}`})
	start := time.Now()
	res := a.task(t, "echo", 1)
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("task took %v, want >= 300ms", elapsed)
	}
	if !res.OK || res.DurationMs < 300 {
		t.Errorf("result = %+v, want ok with durationMs >= 300", res)
	}
	a.control(t, map[string]any{"config": map[string]any{"latency_ms": nil}})
	if res := a.task(t, "echo", 1); res.DurationMs >= 300 {
		t.Errorf("durationMs after removing latency_ms = %v, want < 300", res.DurationMs)
	}
}

func TestHealthKnobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key       string
		path      string
		badCode   int
		otherPath string // unaffected by the knob
	}{
		{key: "refuse_ready", path: "/readyz", badCode: 503, otherPath: "/healthz"},
		{key: "fail_health", path: "/healthz", badCode: 500, otherPath: "/readyz"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			a := startAgent(t, agentOpts{config: fmt.Sprintf(`{%q:true}`, tc.key)})
			if code, body := a.get(t, tc.path); code != tc.badCode || body["reason"] != tc.key+" is set" {
				t.Errorf("%s with %s = %d %v, want %d naming the key", tc.path, tc.key, code, body, tc.badCode)
			}
			if code, _ := a.get(t, tc.otherPath); code != 200 {
				t.Errorf("%s with %s = %d, want 200", tc.otherPath, tc.key, code)
			}
			a.control(t, map[string]any{"config": map[string]any{tc.key: false}})
			if code, _ := a.get(t, tc.path); code != 200 {
				t.Errorf("%s after %s false = %d, want 200", tc.path, tc.key, code)
			}
			a.control(t, map[string]any{"config": map[string]any{tc.key: true}})
			if code, _ := a.get(t, tc.path); code != tc.badCode {
				t.Errorf("%s after patching %s true = %d, want %d", tc.path, tc.key, code, tc.badCode)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{instance: "7"})
	code, body := a.get(t, "/healthz")
	want := map[string]any{
		"status": "ok", "version": agentkit.Version, "requestedVersion": "1.0.0",
		"instance": "7", "agentId": a.ID, "kind": "blank",
	}
	if code != 200 || !cmp.Equal(body, want) {
		t.Errorf("/healthz = %d %v, want 200 %v", code, body, want)
	}
	if code, body := a.get(t, "/readyz"); code != 200 || body["status"] != "ready" {
		t.Errorf("/readyz = %d %v, want 200 ready", code, body)
	}
}

func TestCrashAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		// before is how many tasks run before patch is sent.
		before int
		patch  map[string]any
		// crashOn is the task (1-based) after which the process exits.
		crashOn int
	}{
		{name: "from start", config: `{"crash_after":3}`, crashOn: 3},
		{name: "patched later counts earlier tasks", before: 2, patch: map[string]any{"crash_after": 2}, crashOn: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startAgent(t, agentOpts{config: tc.config})
			n := 0
			for ; n < tc.before; n++ {
				a.task(t, "echo", n)
			}
			if tc.patch != nil {
				a.control(t, map[string]any{"config": tc.patch})
			}
			for n < tc.crashOn-1 {
				a.task(t, "echo", n)
				n++
			}
			if len(a.Exits) != 0 {
				t.Fatalf("exited after %d tasks, want after %d", n, tc.crashOn)
			}
			// The crashing task's result still reaches the requester.
			if res := a.task(t, "echo", n); !res.OK {
				t.Errorf("task %d = %+v, want ok", tc.crashOn, res)
			}
			select {
			case code := <-a.Exits:
				if code != 3 {
					t.Errorf("exit code = %d, want 3", code)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no exit after task %d", tc.crashOn)
			}
			if _, ok := a.Logs.Find("crashing as configured"); !ok {
				t.Errorf("no log line %q", "crashing as configured")
			}
			// os.Exit never returns; the injected Exit does, and must not be
			// called again.
			a.task(t, "echo", 0)
			if _, err := a.stop(t); err != nil {
				t.Fatal(err)
			}
			if len(a.Exits) != 0 {
				t.Errorf("Exit called again after the crash")
			}
		})
	}
}

func TestStartupDelay(t *testing.T) {
	t.Parallel()
	const delay = 800 * time.Millisecond
	a := startAgent(t, agentOpts{config: `{"startup_delay_ms":800}`, noWait: true})
	code, body := a.get(t, "/readyz")
	if time.Since(a.start) < delay && (code != 503 || body["reason"] != "starting") {
		t.Errorf("/readyz during the startup delay = %d %v, want 503 starting", code, body)
	}
	if code, _ := a.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz during the startup delay = %d, want 200", code)
	}
	if _, err := a.NC.Request(agentkit.TasksSubject(a.ID), []byte(`{"type":"echo"}`), time.Second); time.Since(a.start) < delay && !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("task during the startup delay: err = %v, want %v", err, nats.ErrNoResponders)
	}
	a.waitStatus(t, "/readyz", 200)
	if elapsed := time.Since(a.start); elapsed < delay {
		t.Errorf("ready after %v, want >= %v", elapsed, delay)
	}
	if _, ok := a.Logs.Find("agent ready"); !ok {
		t.Error("ready without an agent ready log line")
	}
	if res := a.task(t, "echo", 1); !res.OK {
		t.Errorf("task after startup = %+v", res)
	}
}

// TestLeak is not parallel: it measures the heap of the whole test process,
// and the parallel tests only start once the sequential ones are done.
func TestLeak(t *testing.T) {
	const mbPerTask, tasks = 16, 4
	a := startAgent(t, agentOpts{config: fmt.Sprintf(`{"leak_mb_per_task":%d}`, mbPerTask)})
	before := heapInuse()
	for i := range tasks {
		if res := a.task(t, "echo", i); !res.OK {
			t.Fatalf("task %d = %+v", i, res)
		}
	}
	grown := int64(heapInuse()) - int64(before)
	if want := int64(mbPerTask*tasks) << 20; grown < want*9/10 {
		t.Errorf("HeapInuse grew %d MiB over %d tasks, want about %d MiB", grown>>20, tasks, want>>20)
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{config: `{"latency_ms":500}`, env: map[string]string{"AGENT_DRAIN_TIMEOUT": "5s"}})
	results := a.results(t)

	replies := make(chan *nats.Msg, 1)
	inbox := a.NC.NewRespInbox()
	if _, err := a.NC.ChanSubscribe(inbox, replies); err != nil {
		t.Fatal(err)
	}
	if err := a.NC.PublishRequest(agentkit.TasksSubject(a.ID), inbox, []byte(`{"id":"slow","type":"echo","input":"x"}`)); err != nil {
		t.Fatal(err)
	}
	agenttest.Eventually(t, 5*time.Second, func() error {
		if v, _ := agenttest.MetricValue(a.metrics(t), "agent_tasks_in_flight"); v != 1 {
			return fmt.Errorf("agent_tasks_in_flight = %v, want 1", v)
		}
		return nil
	})

	start := time.Now()
	a.cancel()
	agenttest.Eventually(t, 5*time.Second, func() error {
		code, body, err := agenttest.TryGet(a.URL + "/readyz")
		if err != nil {
			return err
		}
		if code != 503 || !strings.Contains(string(body), "draining") {
			return fmt.Errorf("/readyz = %d %s, want 503 draining", code, body)
		}
		return nil
	})
	if _, err := a.NC.Request(agentkit.TasksSubject(a.ID), []byte(`{"id":"late","type":"echo"}`), 300*time.Millisecond); !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
		t.Errorf("task sent while draining: err = %v, want no responders or timeout", err)
	}

	select {
	case msg := <-replies:
		var res agentkit.Result
		if err := json.Unmarshal(msg.Data, &res); err != nil {
			t.Fatal(err)
		}
		if res.TaskID != "slow" || !res.OK {
			t.Errorf("reply to the in-flight task = %+v, want slow ok", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight task got no reply")
	}
	select {
	case err := <-a.done:
		a.done <- err
		if err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within the 5s drain timeout")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("drain took %v, want < 5s", elapsed)
	}
	select {
	case msg := <-results:
		var res agentkit.Result
		if err := json.Unmarshal(msg.Data, &res); err != nil {
			t.Fatal(err)
		}
		if res.TaskID != "slow" {
			t.Errorf("result published = %+v, want the in-flight task's", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no result published for the in-flight task")
	}
	if _, _, err := agenttest.TryGet(a.URL + "/healthz"); err == nil {
		t.Error("HTTP server still answers after Run returned")
	}
}

func TestDrainTimeout(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{env: map[string]string{"AGENT_DRAIN_TIMEOUT": "300ms"}})
	if err := a.NC.Publish(agentkit.TasksSubject(a.ID), []byte(`{"type":"block"}`)); err != nil {
		t.Fatal(err)
	}
	agenttest.Eventually(t, 5*time.Second, func() error {
		if v, _ := agenttest.MetricValue(a.metrics(t), "agent_tasks_in_flight"); v != 1 {
			return fmt.Errorf("agent_tasks_in_flight = %v, want 1", v)
		}
		return nil
	})
	elapsed, err := a.stop(t)
	if err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("Run returned %v after cancel, want just over the 300ms drain timeout", elapsed)
	}
	if _, ok := a.Logs.Find("drain timeout passed, abandoning tasks"); !ok {
		t.Errorf("no drain timeout log line in:\n%s", a.Logs)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	a := startAgent(t, agentOpts{})
	for _, typ := range []string{"echo", "echo", "echo", "fail", "fail"} {
		a.task(t, typ, nil)
	}
	var res agentkit.Result
	agenttest.Request(t, a.NC, agentkit.TasksSubject(a.ID), []byte(`not json`), &res)

	text := a.metrics(t)
	tests := []struct {
		series string
		want   float64
	}{
		{`agent_tasks_total{kind="blank",outcome="ok"}`, 3},
		{`agent_tasks_total{kind="blank",outcome="error"}`, 3},
		{`agent_task_duration_seconds_count{kind="blank"}`, 6},
		{`agent_tasks_in_flight`, 0},
		{`agent_paused`, 0},
		{fmt.Sprintf(`agent_info{instance="0",kind="blank",version=%q}`, agentkit.Version), 1},
	}
	for _, tc := range tests {
		if got, ok := agenttest.MetricValue(text, tc.series); !ok || got != tc.want {
			t.Errorf("%s = %v (found %v), want %v", tc.series, got, ok, tc.want)
		}
	}
	for _, series := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := agenttest.MetricValue(text, series); !ok {
			t.Errorf("no %s in /metrics", series)
		}
	}
}

func TestRunStartupErrors(t *testing.T) {
	t.Parallel()
	natsURL := agenttest.StartNATS(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	// A port that was free a moment ago: nothing listens on it.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	good := map[string]string{
		"AGENT_ID":   agenttest.NewID(),
		"AGENT_NAME": "n",
		"AGENT_KIND": "blank",
		"AGENT_ADDR": "127.0.0.1:0",
		"NATS_URL":   natsURL,
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"missing NATS_URL", map[string]string{"NATS_URL": ""}, "NATS_URL is required"},
		{"bad AGENT_CONFIG", map[string]string{"AGENT_CONFIG": `{"fail_rate":`}, "AGENT_CONFIG"},
		{"bad knob in AGENT_CONFIG", map[string]string{"AGENT_CONFIG": `{"fail_rate":2}`}, "AGENT_CONFIG: fail_rate"},
		{"address in use", map[string]string{"AGENT_ADDR": busy.Addr().String()}, "AGENT_ADDR"},
		{"NATS unreachable", map[string]string{"NATS_URL": "nats://" + closedAddr}, "connect to NATS_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := agentkit.Run(ctx, agentkit.Options{
				Getenv:  agenttest.Getenv(env),
				Stdout:  &agenttest.Logs{},
				Handler: testHandler,
			})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Run() = %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}
	if err := agentkit.Run(context.Background(), agentkit.Options{Getenv: agenttest.Getenv(good)}); err == nil {
		t.Error("Run without a Handler succeeded")
	}
}
