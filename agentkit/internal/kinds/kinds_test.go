package kinds

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/platformportal/portal/agentkit"
)

// do runs one task and returns its output as JSON, as the SDK would send it.
func do(tb testing.TB, h agentkit.Handler, typ, input string, cfg agentkit.Config) (string, error) {
	tb.Helper()
	var raw json.RawMessage
	if input != "" {
		raw = json.RawMessage(input)
	}
	out, err := h(context.Background(), agentkit.Task{ID: "t", Type: typ, Input: raw}, cfg)
	if out == nil {
		return "", err
	}
	b, merr := json.Marshal(out)
	if merr != nil {
		tb.Fatalf("marshal output %#v: %v", out, merr)
	}
	return string(b), err
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, name := range Names {
		if k, err := New(name); err != nil || k.Handler == nil {
			t.Errorf("New(%q) = %+v, %v, want a handler", name, k, err)
		}
	}
	_, err := New("robot")
	if err == nil {
		t.Fatal(`New("robot") succeeded`)
	}
	for _, name := range Names {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("New(robot) error %q does not list %q", err, name)
		}
	}
}

func TestUnknownTaskType(t *testing.T) {
	t.Parallel()
	tests := []struct{ kind, want string }{
		{"memory", "remember, recall, forget"},
		{"orchestration", "run"},
		{"api", "call"},
		{"data", "transform"},
		{"monitoring", "check"},
		{"blank", "echo"},
	}
	for _, tc := range tests {
		k, err := New(tc.kind)
		if err != nil {
			t.Fatal(err)
		}
		_, err = do(t, k.Handler, "dance", "", nil)
		if err == nil || !strings.Contains(err.Error(), `"dance"`) || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("%s: dance = %v, want an error naming the type and listing %s", tc.kind, err, tc.want)
		}
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemory(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := newMemory(clock.Now)
	h := newRouter("memory", []route{{"remember", m.remember}, {"recall", m.recall}, {"forget", m.forget}})

	// Steps run in order against the same memory.
	steps := []struct {
		name    string
		advance time.Duration
		typ     string
		input   string
		want    string
		wantErr string
	}{
		{name: "recall unknown", typ: "recall", input: `{"key":"a"}`, want: `{"value":null,"found":false}`},
		{name: "remember long-term", typ: "remember", input: `{"key":"a","value":{"x":[1,2]}}`, want: `{"stored":true,"term":"long"}`},
		{name: "remember short-term", typ: "remember", input: `{"key":"b","value":"soon gone","ttl_ms":1000}`, want: `{"stored":true,"term":"short"}`},
		{name: "recall long-term", typ: "recall", input: `{"key":"a"}`, want: `{"value":{"x":[1,2]},"found":true}`},
		{name: "recall short-term before its ttl", advance: 999 * time.Millisecond, typ: "recall", input: `{"key":"b"}`, want: `{"value":"soon gone","found":true}`},
		{name: "recall short-term at its ttl", advance: time.Millisecond, typ: "recall", input: `{"key":"b"}`, want: `{"value":null,"found":false}`},
		{name: "long-term outlives a day", advance: 24 * time.Hour, typ: "recall", input: `{"key":"a"}`, want: `{"value":{"x":[1,2]},"found":true}`},
		{name: "overwrite", typ: "remember", input: `{"key":"a","value":2}`, want: `{"stored":true,"term":"long"}`},
		{name: "recall overwritten", typ: "recall", input: `{"key":"a"}`, want: `{"value":2,"found":true}`},
		{name: "forget", typ: "forget", input: `{"key":"a"}`, want: `{"forgotten":true}`},
		{name: "forget again", typ: "forget", input: `{"key":"a"}`, want: `{"forgotten":false}`},
		{name: "recall forgotten", typ: "recall", input: `{"key":"a"}`, want: `{"value":null,"found":false}`},
		{name: "null is a value", typ: "remember", input: `{"key":"n","value":null}`, want: `{"stored":true,"term":"long"}`},
		{name: "recall null", typ: "recall", input: `{"key":"n"}`, want: `{"value":null,"found":true}`},
		{name: "key required", typ: "remember", input: `{"value":1}`, wantErr: "key is required"},
		{name: "value required", typ: "remember", input: `{"key":"k"}`, wantErr: "value is required"},
		{name: "ttl must be positive", typ: "remember", input: `{"key":"k","value":1,"ttl_ms":0}`, wantErr: "ttl_ms: must be positive"},
		{name: "unknown field", typ: "remember", input: `{"key":"k","val":1}`, wantErr: `unknown field "val"`},
		{name: "recall needs a key", typ: "recall", input: `{}`, wantErr: "key is required"},
		{name: "forget needs a key", typ: "forget", wantErr: "key is required"},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		got, err := do(t, h, s.typ, s.input, nil)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("%s: %s %s = %v, want error %q", s.name, s.typ, s.input, err, s.wantErr)
			}
			continue
		}
		if err != nil || got != s.want {
			t.Errorf("%s: %s %s = %s, %v, want %s", s.name, s.typ, s.input, got, err, s.want)
		}
	}
}

func TestOrchestration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		// wantSteps is each step's name and ok, in order.
		wantSteps []stepOutput
		wantErr   string
	}{
		{
			name:      "all succeed",
			input:     `{"steps":[{"name":"fetch","sleep_ms":20},{"name":"parse"},{"name":"store"}]}`,
			wantSteps: []stepOutput{{Name: "fetch", OK: true}, {Name: "parse", OK: true}, {Name: "store", OK: true}},
		},
		{
			name:      "stops at the first failure",
			input:     `{"steps":[{"name":"a"},{"name":"b","fail":true},{"name":"c"}]}`,
			wantSteps: []stepOutput{{Name: "a", OK: true}, {Name: "b", OK: false}},
			wantErr:   `step "b": failed`,
		},
		{name: "no steps", input: `{"steps":[]}`, wantErr: "steps is required"},
		{name: "no input", wantErr: "steps is required"},
		{name: "unnamed step", input: `{"steps":[{"name":"a"},{}]}`, wantErr: "steps[1]: name is required"},
		{name: "negative sleep", input: `{"steps":[{"name":"a","sleep_ms":-1}]}`, wantErr: "sleep_ms must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var raw json.RawMessage
			if tc.input != "" {
				raw = json.RawMessage(tc.input)
			}
			out, err := runSteps(context.Background(), raw, nil)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("run = %v, want error %q", err, tc.wantErr)
			}
			if tc.wantSteps == nil {
				if out != nil {
					t.Errorf("output = %+v, want none for an invalid plan", out)
				}
				return
			}
			got := out.(runOutput).Steps
			if diff := cmp.Diff(tc.wantSteps, got, cmpopts.IgnoreFields(stepOutput{}, "DurationMs")); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if tc.name == "all succeed" && got[0].DurationMs < 20 {
				t.Errorf("fetch took %vms, want >= its 20ms sleep", got[0].DurationMs)
			}
		})
	}
}

func TestOrchestrationCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	out, err := runSteps(ctx, json.RawMessage(`{"steps":[{"name":"long","sleep_ms":60000}]}`), nil)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("run with an ending context = %v after %v, want an error soon", err, time.Since(start))
	}
	if steps := out.(runOutput).Steps; len(steps) != 1 || steps[0].OK {
		t.Errorf("steps = %+v, want the interrupted step not ok", steps)
	}
}

func TestAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		input   string
		cfg     agentkit.Config
		want    string // the output without its checksum
		wantErr string
	}{
		{
			name:  "echo with sorted keys",
			input: `{"endpoint":"/users","payload":{"b":1,"a":[true,"x",1.50]}}`,
			want:  `{"status":200,"body":{"endpoint":"/users","echo":{"a":[true,"x",1.50],"b":1}}}`,
		},
		{
			name:  "no payload",
			input: `{"endpoint":"/ping"}`,
			cfg:   agentkit.Config{"api_latency_ms": 0.0},
			want:  `{"status":200,"body":{"endpoint":"/ping","echo":null}}`,
		},
		{name: "endpoint required", input: `{"payload":1}`, wantErr: "endpoint is required"},
		{name: "bad latency config", input: `{"endpoint":"/x"}`, cfg: agentkit.Config{"api_latency_ms": "fast"}, wantErr: "api_latency_ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := callAPI(context.Background(), json.RawMessage(tc.input), tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("call = %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := out.(callOutput)
			if len(o.Body.Checksum) != 64 {
				t.Errorf("checksum = %q, want 64 hex digits", o.Body.Checksum)
			}
			o.Body.Checksum = ""
			b, _ := json.Marshal(o)
			got := strings.Replace(string(b), `,"checksum":""`, "", 1)
			if got != tc.want {
				t.Errorf("call output = %s, want %s", got, tc.want)
			}
		})
	}

	// Deterministic: the same call, keys in another order, same answer.
	a, _ := callAPI(context.Background(), json.RawMessage(`{"endpoint":"/e","payload":{"x":1,"y":2}}`), agentkit.Config{"api_latency_ms": 0.0})
	b, _ := callAPI(context.Background(), json.RawMessage(`{"payload":{"y":2, "x":1},"endpoint":"/e"}`), agentkit.Config{"api_latency_ms": 0.0})
	c, _ := callAPI(context.Background(), json.RawMessage(`{"endpoint":"/other","payload":{"x":1,"y":2}}`), agentkit.Config{"api_latency_ms": 0.0})
	if a.(callOutput).Body.Checksum != b.(callOutput).Body.Checksum {
		t.Error("equal calls got different checksums")
	}
	if a.(callOutput).Body.Checksum == c.(callOutput).Body.Checksum {
		t.Error("calls to different endpoints got the same checksum")
	}
}

func TestAPILatency(t *testing.T) {
	t.Parallel()
	start := time.Now()
	if _, err := callAPI(context.Background(), json.RawMessage(`{"endpoint":"/slow"}`), agentkit.Config{"api_latency_ms": 100.0}); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("call with api_latency_ms 100 took %v", elapsed)
	}
	for _, cfg := range []agentkit.Config{{"api_latency_ms": -1.0}, {"api_latency_ms": true}} {
		if err := validateAPIConfig(cfg); err == nil || !strings.Contains(err.Error(), "api_latency_ms") {
			t.Errorf("validateAPIConfig(%v) = %v, want an error naming api_latency_ms", cfg, err)
		}
	}
	if err := validateAPIConfig(agentkit.Config{"api_latency_ms": 12.0, "other": "x"}); err != nil {
		t.Errorf("validateAPIConfig(valid) = %v", err)
	}
}

func TestData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input   string
		want    string
		wantErr string
	}{
		{input: `{"op":"sum","records":[1,2.5,-0.5]}`, want: `{"op":"sum","result":3}`},
		{input: `{"op":"sum","records":[]}`, want: `{"op":"sum","result":0}`},
		{input: `{"op":"count","records":[1,"a",3]}`, want: `{"op":"count","result":3}`},
		{input: `{"op":"count"}`, want: `{"op":"count","result":0}`},
		{input: `{"op":"uppercase","records":["abc","Öl"]}`, want: `{"op":"uppercase","result":["ABC","ÖL"]}`},
		{input: `{"op":"sort","records":[3,1,2,10]}`, want: `{"op":"sort","result":[1,2,3,10]}`},
		{input: `{"op":"sort","records":["pear","apple","fig"]}`, want: `{"op":"sort","result":["apple","fig","pear"]}`},
		{input: `{"op":"sort","records":[]}`, want: `{"op":"sort","result":[]}`},
		{input: `{"op":"sum","records":[1,"2"]}`, wantErr: "records[1]: sum needs numbers"},
		{input: `{"op":"uppercase","records":["a",1]}`, wantErr: "records[1]: uppercase needs strings"},
		{input: `{"op":"sort","records":[1,"a"]}`, wantErr: "records[1]: sort needs all numbers or all strings"},
		{input: `{"op":"count","records":[{"a":1}]}`, wantErr: "records[0]: must be a number or a string"},
		{input: `{"op":"count","records":[true]}`, wantErr: "records[0]: must be a number or a string"},
		{input: `{"op":"average","records":[1]}`, wantErr: `op: "average" is not one of sum, count, uppercase, sort`},
		{input: `{"records":[1]}`, wantErr: `op: "" is not one of`},
	}
	for _, tc := range tests {
		got, err := do(t, must(New("data")).Handler, "transform", tc.input, nil)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("transform %s = %v, want error %q", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("transform %s = %s, %v, want %s", tc.input, got, err, tc.want)
		}
	}
}

func TestMonitoring(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/moved":
			http.Redirect(w, r, "http://198.51.100.1/", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)

	m := newMonitor()
	targets := []string{srv.URL + "/ok", srv.URL + "/down", srv.URL + "/moved", "http://localhost:" + port + "/ok", "http://127.0.0.1:1/closed"}
	input, _ := json.Marshal(checkInput{Targets: targets})
	out, err := m.check(context.Background(), input, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := out.([]checkOutput)
	want := []checkOutput{
		{Target: targets[0], Status: 200, OK: true},
		{Target: targets[1], Status: 503},
		// The redirect is reported, not followed (it points off the host).
		{Target: targets[2], Status: 302, OK: true},
		{Target: targets[3], Status: 200, OK: true},
		{Target: targets[4]},
	}
	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		f := p.Last().String()
		return f == ".LatencyMs" || f == ".Error"
	}, cmp.Ignore())
	if diff := cmp.Diff(want, got, ignore); diff != "" {
		t.Errorf("check (-want +got):\n%s", diff)
	}
	if got[4].Error == "" {
		t.Error("the closed port's check has no error")
	}
	for _, g := range got[:4] {
		if g.LatencyMs <= 0 || g.Error != "" {
			t.Errorf("%s: latency %v error %q, want a latency and no error", g.Target, g.LatencyMs, g.Error)
		}
	}

	refused := []struct{ target, want string }{
		{"http://example.com/", `target "http://example.com/": only loopback hosts`},
		{"http://10.0.0.1:8080/health", `target "http://10.0.0.1:8080/health": only loopback hosts`},
		{"http://127.0.0.1.nip.io/", "only loopback hosts"},
		{"ftp://127.0.0.1/", "scheme must be http or https"},
		{"::not a url", "target"},
	}
	for _, tc := range refused {
		input, _ := json.Marshal(checkInput{Targets: []string{srv.URL + "/ok", tc.target}})
		if _, err := m.check(context.Background(), input, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("check %s = %v, want error %q", tc.target, err, tc.want)
		}
	}
	if _, err := m.check(context.Background(), json.RawMessage(`{"targets":[]}`), nil); err == nil {
		t.Error("check with no targets succeeded")
	}
}

func TestMonitoringDialGuard(t *testing.T) {
	t.Parallel()
	// Even past checkTarget, the dialer refuses a non-loopback address.
	out := newMonitor().get(context.Background(), "http://192.0.2.1/")
	if out.OK || !strings.Contains(out.Error, "not a loopback address") {
		t.Errorf("get of a non-loopback address = %+v, want refused by the dialer", out)
	}
}

func TestBlank(t *testing.T) {
	t.Parallel()
	h := must(New("blank")).Handler
	for _, in := range []string{`{"a":[1,{"b":null}]}`, `"text"`, `42`} {
		if got, err := do(t, h, "echo", in, nil); err != nil || got != in {
			t.Errorf("echo %s = %s, %v", in, got, err)
		}
	}
	if got, err := do(t, h, "echo", "", nil); err != nil || got != "" {
		t.Errorf("echo without input = %q, %v, want no output", got, err)
	}
}

func must(k Kind, err error) Kind {
	if err != nil {
		panic(err)
	}
	return k
}
