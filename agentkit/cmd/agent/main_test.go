package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/platformportal/portal/agentkit"
	"github.com/platformportal/portal/agentkit/internal/agenttest"
)

// runAgent runs run() in the test process until the test ends and returns
// the agent's id, a client connection and its HTTP address.
func runAgent(tb testing.TB, kind string, env map[string]string) (id string, nc *nats.Conn, addr string) {
	tb.Helper()
	natsURL := agenttest.StartNATS(tb)
	id = agenttest.NewID()
	full := map[string]string{
		"AGENT_ID":   id,
		"AGENT_NAME": kind + "-test",
		"AGENT_KIND": kind,
		"AGENT_ADDR": "127.0.0.1:0",
		"NATS_URL":   natsURL,
	}
	for k, v := range env {
		full[k] = v
	}
	logs := &agenttest.Logs{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, agenttest.Getenv(full), logs) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("run() = %v, want nil", err)
			}
		case <-time.After(20 * time.Second):
			tb.Error("run did not return 20s after its context ended")
		}
	})
	addr = logs.Addr(tb)
	logs.WaitFor(tb, "agent ready", 10*time.Second)
	return id, agenttest.Connect(tb, natsURL), addr
}

func TestKinds(t *testing.T) {
	t.Parallel()
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthy" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(probe.Close)

	type step struct {
		typ   string
		input string
		// want is the exact output, unless check is set.
		want    string
		check   func(t *testing.T, out json.RawMessage)
		wantErr string // the result is ok=false with an error containing this
	}
	tests := []struct {
		kind  string
		steps []step // in order, against one agent
	}{
		{kind: "memory", steps: []step{
			{typ: "remember", input: `{"key":"user","value":{"name":"Ada"}}`, want: `{"stored":true,"term":"long"}`},
			{typ: "remember", input: `{"key":"session","value":"abc","ttl_ms":60000}`, want: `{"stored":true,"term":"short"}`},
			{typ: "recall", input: `{"key":"user"}`, want: `{"value":{"name":"Ada"},"found":true}`},
			{typ: "recall", input: `{"key":"session"}`, want: `{"value":"abc","found":true}`},
			{typ: "forget", input: `{"key":"user"}`, want: `{"forgotten":true}`},
			{typ: "recall", input: `{"key":"user"}`, want: `{"value":null,"found":false}`},
			{typ: "think", input: `{}`, wantErr: `unknown task type "think" for a memory agent: supported types are remember, recall, forget`},
		}},
		{kind: "orchestration", steps: []step{
			{typ: "run", input: `{"steps":[{"name":"plan","sleep_ms":5},{"name":"act"}]}`, check: func(t *testing.T, out json.RawMessage) {
				var o struct {
					Steps []struct {
						Name       string
						OK         bool
						DurationMs float64
					}
				}
				if err := json.Unmarshal(out, &o); err != nil || len(o.Steps) != 2 || o.Steps[0].Name != "plan" || !o.Steps[0].OK || o.Steps[0].DurationMs < 5 || o.Steps[1].Name != "act" || !o.Steps[1].OK {
					t.Errorf("run output = %s, want plan (>= 5ms) and act, both ok", out)
				}
			}},
			{typ: "run", input: `{"steps":[{"name":"a"},{"name":"b","fail":true},{"name":"c"}]}`, wantErr: `step "b": failed`},
			{typ: "walk", wantErr: "supported types are run"},
		}},
		{kind: "api", steps: []step{
			{typ: "call", input: `{"endpoint":"/v1/orders","payload":{"qty":2,"sku":"A-1"}}`, check: func(t *testing.T, out json.RawMessage) {
				var o struct {
					Status int
					Body   struct {
						Endpoint string
						Echo     json.RawMessage
						Checksum string
					}
				}
				if err := json.Unmarshal(out, &o); err != nil || o.Status != 200 || o.Body.Endpoint != "/v1/orders" || string(o.Body.Echo) != `{"qty":2,"sku":"A-1"}` || len(o.Body.Checksum) != 64 {
					t.Errorf("call output = %s, want status 200 echoing the payload with a checksum", out)
				}
			}},
			{typ: "call", input: `{"payload":{}}`, wantErr: "endpoint is required"},
		}},
		{kind: "data", steps: []step{
			{typ: "transform", input: `{"records":[1,2,3.5],"op":"sum"}`, want: `{"op":"sum","result":6.5}`},
			{typ: "transform", input: `{"records":["b","a"],"op":"sort"}`, want: `{"op":"sort","result":["a","b"]}`},
			{typ: "transform", input: `{"records":["x"],"op":"uppercase"}`, want: `{"op":"uppercase","result":["X"]}`},
			{typ: "transform", input: `{"records":[1,"x"],"op":"count"}`, want: `{"op":"count","result":2}`},
			{typ: "transform", input: `{"records":[1],"op":"median"}`, wantErr: `op: "median" is not one of sum, count, uppercase, sort`},
		}},
		{kind: "monitoring", steps: []step{
			{typ: "check", input: fmt.Sprintf(`{"targets":[%q,%q]}`, probe.URL+"/healthy", probe.URL+"/broken"), check: func(t *testing.T, out json.RawMessage) {
				var o []struct {
					Target    string
					Status    int
					OK        bool
					LatencyMs float64
				}
				if err := json.Unmarshal(out, &o); err != nil || len(o) != 2 ||
					o[0].Target != probe.URL+"/healthy" || o[0].Status != 200 || !o[0].OK || o[0].LatencyMs <= 0 ||
					o[1].Status != 500 || o[1].OK {
					t.Errorf("check output = %s, want /healthy 200 ok and /broken 500 not ok", out)
				}
			}},
			{typ: "check", input: `{"targets":["http://example.com/"]}`, wantErr: `target "http://example.com/": only loopback hosts`},
		}},
		{kind: "blank", steps: []step{
			{typ: "echo", input: `{"anything":[1,"two",null]}`, want: `{"anything":[1,"two",null]}`},
			{typ: "reverse", wantErr: "supported types are echo"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			id, nc, _ := runAgent(t, tc.kind, nil)
			results := make(chan *nats.Msg, 64)
			if _, err := nc.ChanSubscribe(agentkit.ResultsSubject(id), results); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				taskID := fmt.Sprintf("%s-%d", tc.kind, i)
				req := fmt.Sprintf(`{"id":%q,"type":%q}`, taskID, s.typ)
				if s.input != "" {
					req = fmt.Sprintf(`{"id":%q,"type":%q,"input":%s}`, taskID, s.typ, s.input)
				}
				var res agentkit.Result
				agenttest.Request(t, nc, agentkit.TasksSubject(id), []byte(req), &res)
				if res.TaskID != taskID || res.AgentID != id || res.Instance != "0" || res.Type != s.typ {
					t.Errorf("%s: result header = %+v, want task %s of agent %s", req, res, taskID, id)
				}
				switch {
				case s.wantErr != "":
					if res.OK || !strings.Contains(res.Error, s.wantErr) {
						t.Errorf("%s: result = %+v, want an error containing %q", req, res, s.wantErr)
					}
				case !res.OK:
					t.Errorf("%s: result = %+v, want ok", req, res)
				case s.check != nil:
					s.check(t, res.Output)
				case string(res.Output) != s.want:
					t.Errorf("%s: output = %s, want %s", req, res.Output, s.want)
				}

				select {
				case msg := <-results:
					var pub agentkit.Result
					if err := json.Unmarshal(msg.Data, &pub); err != nil || pub.TaskID != taskID || pub.OK != res.OK {
						t.Errorf("results subject: %s, want task %s ok=%v", msg.Data, taskID, res.OK)
					}
				case <-time.After(5 * time.Second):
					t.Errorf("no result for %s on %s", taskID, agentkit.ResultsSubject(id))
				}
			}
		})
	}
}

func TestAPIConfig(t *testing.T) {
	t.Parallel()
	id, nc, _ := runAgent(t, "api", map[string]string{"AGENT_CONFIG": `{"api_latency_ms":150}`})
	start := time.Now()
	var res agentkit.Result
	agenttest.Request(t, nc, agentkit.TasksSubject(id), []byte(`{"type":"call","input":{"endpoint":"/slow"}}`), &res)
	if elapsed := time.Since(start); !res.OK || elapsed < 150*time.Millisecond {
		t.Errorf("call with api_latency_ms 150 = %+v after %v, want ok after >= 150ms", res, elapsed)
	}
	// The kind's own key is validated in control patches too.
	var reply agentkit.ControlReply
	agenttest.Request(t, nc, agentkit.ControlSubject(id), []byte(`{"config":{"api_latency_ms":"slow"}}`), &reply)
	if reply.OK || !strings.Contains(reply.Error, "api_latency_ms") || reply.Config["api_latency_ms"] != 150.0 {
		t.Errorf("bad api_latency_ms patch reply = %+v, want refused, config unchanged", reply)
	}
}

func TestRunCommands(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"AGENT_ID": agenttest.NewID(), "AGENT_NAME": "n", "NATS_URL": "nats://127.0.0.1:1", "AGENT_ADDR": "127.0.0.1:0",
	}
	with := func(k, v string) func(string) string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			if _, ok := m[bk]; !ok {
				m[bk] = bv
			}
		}
		return agenttest.Getenv(m)
	}
	tests := []struct {
		name       string
		args       []string
		getenv     func(string) string
		wantOut    string
		wantErrAll []string // the error contains each
	}{
		{name: "version", args: []string{"version"}, getenv: with("", ""), wantOut: agentkit.Version + "\n"},
		{name: "unknown command", args: []string{"start"}, getenv: with("", ""), wantErrAll: []string{`unknown command "start"`}},
		{name: "extra arguments", args: []string{"version", "now"}, getenv: with("", ""), wantErrAll: []string{"unexpected arguments"}},
		{name: "no kind", getenv: with("AGENT_KIND", ""), wantErrAll: []string{"AGENT_KIND is required"}},
		{name: "unknown kind", getenv: with("AGENT_KIND", "robot"), wantErrAll: []string{"AGENT_KIND", `"robot"`, "memory", "orchestration", "api", "data", "monitoring", "blank"}},
		{name: "bad kind config", getenv: with("AGENT_KIND", "api"), wantErrAll: []string{"NATS_URL"}},
		{name: "healthcheck on port 0", args: []string{"healthcheck"}, getenv: with("", ""), wantErrAll: []string{"AGENT_ADDR", "fixed port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := run(ctx, tc.args, tc.getenv, &out)
			if len(tc.wantErrAll) == 0 {
				if err != nil || out.String() != tc.wantOut {
					t.Errorf("run(%q) = %q, %v, want %q", tc.args, out.String(), err, tc.wantOut)
				}
				return
			}
			for _, want := range tc.wantErrAll {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, want)
				}
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	_, _, readyAddr := runAgent(t, "blank", nil)
	_, _, refusingAddr := runAgent(t, "blank", map[string]string{"AGENT_CONFIG": `{"refuse_ready":true}`})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	_, readyPort, _ := net.SplitHostPort(readyAddr)

	tests := []struct {
		name    string
		addr    string
		wantErr string // empty: healthy
	}{
		{name: "ready", addr: readyAddr},
		{name: "all interfaces is reached on loopback", addr: "0.0.0.0:" + readyPort},
		{name: "no host is reached on loopback", addr: ":" + readyPort},
		{name: "refusing ready", addr: refusingAddr, wantErr: "not ready: 503"},
		{name: "nothing listening", addr: closedAddr, wantErr: "healthcheck"},
		{name: "bad address", addr: "nowhere", wantErr: "AGENT_ADDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(context.Background(), []string{"healthcheck"}, agenttest.Getenv(map[string]string{"AGENT_ADDR": tc.addr}), &out)
			if tc.wantErr == "" {
				if err != nil || !strings.Contains(out.String(), `"ready"`) {
					t.Errorf("healthcheck = %q, %v, want ready", out.String(), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("healthcheck = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestBinary builds the agent and runs it as the platform would: a process
// with its environment, stopped by SIGTERM.
func TestBinary(t *testing.T) {
	t.Parallel()
	const version = "9.8.7-test"
	bin := filepath.Join(t.TempDir(), "agent")
	args := append([]string{"build", "-o", bin,
		"-ldflags", "-X github.com/platformportal/portal/agentkit.Version=" + version}, raceFlags...)
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	natsURL := agenttest.StartNATS(t)
	env := func(kind string, extra ...string) []string {
		return append([]string{
			"AGENT_ID=" + agenttest.NewID(),
			"AGENT_NAME=" + kind + "-bin",
			"AGENT_KIND=" + kind,
			"AGENT_VERSION=" + version,
			"AGENT_ADDR=127.0.0.1:0",
			"AGENT_DRAIN_TIMEOUT=5s",
			"NATS_URL=" + natsURL,
		}, extra...)
	}
	idOf := func(env []string) string { return strings.TrimPrefix(env[0], "AGENT_ID=") }

	t.Run("version", func(t *testing.T) {
		t.Parallel()
		out, err := exec.Command(bin, "version").Output()
		if err != nil || string(out) != version+"\n" {
			t.Errorf("agent version = %q, %v, want %q", out, err, version+"\n")
		}
	})

	t.Run("serve and drain on SIGTERM", func(t *testing.T) {
		t.Parallel()
		e := env("data")
		p := startProc(t, bin, e)
		addr := p.logs.Addr(t)
		p.logs.WaitFor(t, "agent ready", 10*time.Second)
		if code, body := agenttest.Get(t, "http://"+addr+"/readyz"); code != 200 {
			t.Errorf("/readyz = %d %s, want 200", code, body)
		}
		code, body := agenttest.Get(t, "http://"+addr+"/healthz")
		var health map[string]any
		if err := json.Unmarshal(body, &health); err != nil || code != 200 || health["version"] != version || health["kind"] != "data" {
			t.Errorf("/healthz = %d %s, want 200 with version %s and kind data", code, body, version)
		}
		nc := agenttest.Connect(t, natsURL)
		var res agentkit.Result
		agenttest.Request(t, nc, agentkit.TasksSubject(idOf(e)), []byte(`{"type":"transform","input":{"records":[1,2,3],"op":"sum"}}`), &res)
		if !res.OK || string(res.Output) != `{"op":"sum","result":6}` {
			t.Errorf("sum task = %+v, want ok with result 6", res)
		}
		hc := exec.Command(bin, "healthcheck")
		hc.Env = []string{"AGENT_ADDR=" + addr}
		if out, err := hc.CombinedOutput(); err != nil {
			t.Errorf("agent healthcheck = %v, %s, want exit 0", err, out)
		}

		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0; stderr:\n%s", code, p.stderr)
		}
		if _, ok := p.logs.Find("agent stopped"); !ok {
			t.Errorf("no agent stopped log line in:\n%s", p.logs)
		}
		hc = exec.Command(bin, "healthcheck")
		hc.Env = []string{"AGENT_ADDR=" + addr}
		if err := hc.Run(); err == nil {
			t.Error("agent healthcheck after exit succeeded")
		}
	})

	t.Run("unknown kind exits 1", func(t *testing.T) {
		t.Parallel()
		p := startProc(t, bin, env("robot"))
		if code := p.wait(t, 10*time.Second); code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		for _, kind := range []string{"memory", "orchestration", "api", "data", "monitoring", "blank"} {
			if !strings.Contains(p.stderr.String(), kind) {
				t.Errorf("stderr %q does not list kind %s", p.stderr, kind)
			}
		}
	})

	t.Run("crash_after exits 3", func(t *testing.T) {
		t.Parallel()
		e := env("blank", `AGENT_CONFIG={"crash_after":1}`)
		p := startProc(t, bin, e)
		p.logs.WaitFor(t, "agent ready", 10*time.Second)
		nc := agenttest.Connect(t, natsURL)
		var res agentkit.Result
		agenttest.Request(t, nc, agentkit.TasksSubject(idOf(e)), []byte(`{"type":"echo","input":1}`), &res)
		if !res.OK {
			t.Errorf("task = %+v, want ok", res)
		}
		if code := p.wait(t, 10*time.Second); code != 3 {
			t.Errorf("exit code = %d, want 3", code)
		}
		if _, ok := p.logs.Find("crashing as configured"); !ok {
			t.Errorf("no crash log line in:\n%s", p.logs)
		}
	})
}

// proc is the agent binary running as a subprocess.
type proc struct {
	cmd    *exec.Cmd
	logs   *agenttest.Logs
	stderr *bytes.Buffer // read only after done
	done   chan struct{}
}

func startProc(tb testing.TB, bin string, env []string, args ...string) *proc {
	tb.Helper()
	p := &proc{
		cmd:    exec.Command(bin, args...),
		logs:   &agenttest.Logs{},
		stderr: &bytes.Buffer{},
		done:   make(chan struct{}),
	}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(tb testing.TB, timeout time.Duration) int {
	tb.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		tb.Fatalf("process still running after %v; log:\n%s", timeout, p.logs)
		return -1
	}
}
