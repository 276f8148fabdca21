package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/platformportal/portal/agentkit/agentbin"
	"github.com/platformportal/portal/platform/pgtest"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
)

// agentBinary is the reference agent, built once for the package's tests.
var agentBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portal-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if agentBinary, err = agentbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.DefaultTransport = &tokenTransport{next: http.DefaultTransport}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// portRanges hands each portal in this test binary its own range of agent
// ports, so parallel tests never reserve the same free port.
var portRanges atomic.Int32

// agentPortBase starts this package's ports apart from the defaults.
const agentPortBase = 30000

// portal is a running portal started through the real run().
type portal struct {
	base string // http://127.0.0.1:port
	grpc string // 127.0.0.1:port
	nats string // the embedded NATS server's URL
	// logs has every line the portal logged, complete once stop returns.
	logs *logBuffer
	// admin is an admin API token, made by `portal token create` at start;
	// the tests' HTTP client sends it to this portal unless a request has
	// credentials of its own (tokenTransport).
	admin string
	stop  func()
}

// logBuffer collects a portal's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// tokens maps a portal's host:port to its admin token.
var tokens sync.Map

// tokenTransport adds a portal's admin token to requests for it that carry
// no Authorization or Cookie header and do not ask for none (X-Test-Anonymous).
type tokenTransport struct{ next http.RoundTripper }

func (t *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Test-Anonymous") != "" {
		r = r.Clone(r.Context())
		r.Header.Del("X-Test-Anonymous")
		return t.next.RoundTrip(r)
	}
	if tok, ok := tokens.Load(r.URL.Host); ok && r.Header.Get("Authorization") == "" && r.Header.Get("Cookie") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tok.(string))
	}
	return t.next.RoundTrip(r)
}

// createToken runs `portal token create` against the portal's database.
func newToken(t testing.TB, getenv func(string) string, name, role string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "create", "-name", name, "-role", role}, getenv, &out); err != nil {
		t.Fatalf("portal token create: %v", err)
	}
	secret := strings.TrimSpace(out.String())
	if !strings.HasPrefix(secret, "ppt_") || strings.Contains(secret, "\n") {
		t.Fatalf("portal token create printed %q; want the secret alone", secret)
	}
	return secret
}

// startPortal runs the real program on free ports against dbURL and waits
// until it is ready. env adds or overrides variables.
func startPortal(t testing.TB, dbURL, dataDir string, env map[string]string) *portal {
	t.Helper()
	rangeN := portRanges.Add(1)
	vars := map[string]string{
		"DATABASE_URL":     dbURL,
		"PORTAL_HTTP_ADDR": "127.0.0.1:0",
		"PORTAL_GRPC_ADDR": "127.0.0.1:0",
		"PORTAL_NATS_ADDR": "127.0.0.1:0",
		"PORTAL_DATA_DIR":  dataDir,
		"LOG_LEVEL":        "info",
		// Each test binary (package) and each portal in it gets its own ports.
		"PROVISIONING_AGENT_BINARY": agentBinary,
		"PROVISIONING_PORT_LOW":     strconv.Itoa(agentPortBase + int(rangeN)*200),
		"PROVISIONING_PORT_HIGH":    strconv.Itoa(agentPortBase + int(rangeN)*200 + 199),
		// The tests drive one admin token hard; TestRateLimit sets its own.
		"GATEWAY_RATE_LIMIT": "0",
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	addr := make(chan [2]string, 1)
	natsURL := make(chan string, 1)
	logs, scanned := &logBuffer{}, make(chan struct{})
	go func() {
		defer close(scanned)
		defer io.Copy(io.Discard, pr) //nolint:errcheck // never block the portal's logging
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			logs.Write(append(sc.Bytes(), '\n')) //nolint:errcheck
			var line struct {
				Msg      string `json:"msg"`
				HTTPAddr string `json:"http_addr"`
				GRPCAddr string `json:"grpc_addr"`
				URL      string `json:"url"`
				Level    string `json:"level"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "portal ready" {
				addr <- [2]string{line.HTTPAddr, line.GRPCAddr}
			}
			if line.Msg == "embedded nats started" {
				natsURL <- line.URL
			}
			if line.Level == "ERROR" || testing.Verbose() {
				t.Logf("portal: %s", sc.Bytes())
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return vars[k] }, pw)
		pw.Close()
	}()
	var base, grpcAddr string
	select {
	case a := <-addr:
		base, grpcAddr = "http://"+a[0], a[1]
	case err := <-done:
		cancel()
		t.Fatalf("run() = %v before it was ready", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("portal not ready after 60s")
	}
	stopped := false
	p := &portal{base: base, grpc: grpcAddr, logs: logs, stop: func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run() = %v", err)
			}
			<-scanned
		case <-time.After(30 * time.Second):
			t.Error("portal did not stop within 30s")
		}
	}}
	t.Cleanup(p.stop)
	select {
	case p.nats = <-natsURL:
	default: // an external NATS server
		p.nats = vars["NATS_URL"]
	}
	p.admin = newToken(t, func(k string) string { return vars[k] }, "test-admin-"+strconv.Itoa(int(rangeN)), "admin")
	tokens.Store(strings.TrimPrefix(base, "http://"), p.admin)
	t.Cleanup(func() { tokens.Delete(strings.TrimPrefix(base, "http://")) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not OK after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// call sends a JSON request and decodes the JSON response into out (if not nil).
func call(t testing.TB, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode
}

type agentJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	State   string `json:"state"`
	Etag    string `json:"etag"`
	Pending string `json:"pendingOperation"`
	Error   *struct {
		Class            string            `json:"class"`
		Code             string            `json:"code"`
		Message          string            `json:"message"`
		ProbableCause    string            `json:"probableCause"`
		Details          map[string]string `json:"details"`
		SuggestedActions []struct {
			ID     string `json:"id"`
			Action string `json:"action"`
			Link   string `json:"link"`
		} `json:"suggestedActions"`
	} `json:"error"`
}

type agentResp struct {
	Agent   agentJSON `json:"agent"`
	Code    int       `json:"code"`
	Message string    `json:"message"`
}

// act runs a lifecycle action over REST with the agent's etag and waits for
// its operation to finish; it returns the agent as it then is.
func act(t testing.TB, base string, a agentJSON, action string) agentJSON {
	t.Helper()
	var r agentResp
	if code := call(t, "POST", base+"/api/v1/agents/"+a.ID+":"+action, map[string]string{"etag": a.Etag}, &r); code != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", action, code, r.Message)
	}
	return settle(t, base, r.Agent)
}

// settle waits until the agent has no operation in progress.
func settle(t testing.TB, base string, a agentJSON) agentJSON {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for a.Pending != "" {
		if time.Now().After(deadline) {
			t.Fatalf("operation %s on agent %s not done after 60s", a.Pending, a.Name)
		}
		var op map[string]any
		call(t, "POST", base+"/api/v1/operations/"+a.Pending+":wait", map[string]string{"timeout": "10s"}, &op)
		var r agentResp
		if code := call(t, "GET", base+"/api/v1/agents/"+a.ID, nil, &r); code != http.StatusOK {
			t.Fatalf("get agent: HTTP %d: %s", code, r.Message)
		}
		a = r.Agent
	}
	return a
}

func create(t testing.TB, base, name string) agentJSON {
	t.Helper()
	var r agentResp
	if code := call(t, "POST", base+"/api/v1/agents", map[string]any{"name": name, "kind": "AGENT_KIND_MEMORY"}, &r); code != http.StatusOK {
		t.Fatalf("create %s: HTTP %d: %s", name, code, r.Message)
	}
	return r.Agent
}

// wsClient is a test WebSocket client.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
	// last is the sequence of the last event read; contiguous checks that no
	// agent event is skipped (for a client whose topics cover all agents'
	// events): a gap must hold only events of other resources (the security
	// events of the test's API token), which it checks in the stream at nats.
	last       uint64
	contiguous bool
	nats       string
	// pending holds the rest of a batch frame.
	pending []wsFrame
}

type wsFrame struct {
	Type      string `json:"type"`
	Seq       uint64 `json:"seq"`
	EventType string `json:"eventType"`
	Subject   string `json:"subject"`
	Time      string `json:"time"`
	Reason    string `json:"reason"`
	Message   string `json:"message"`
	Data      struct {
		Agent     agentJSON `json:"agent"`
		Operation struct {
			Status string `json:"status"`
		} `json:"operation"`
		BulkOperation struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"bulkOperation"`
		Result *struct {
			AgentID string `json:"agentId"`
			Outcome string `json:"outcome"`
		} `json:"result"`
	} `json:"data"`
}

func dialWS(t testing.TB, base string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) next() wsFrame {
	c.t.Helper()
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	var f struct {
		wsFrame
		Events []wsFrame `json:"events"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatalf("ws frame %q: %v", b, err)
	}
	if f.Type == "batch" { // events that queued up, in order
		c.pending = f.Events[1:]
		return f.Events[0]
	}
	return f.wsFrame
}

// event reads frames until the next event.
func (c *wsClient) event() wsFrame {
	c.t.Helper()
	for {
		f := c.next()
		switch f.Type {
		case "event":
			if c.last != 0 && f.Seq <= c.last {
				c.t.Fatalf("event seq %d after %d: out of order", f.Seq, c.last)
			}
			if c.last != 0 && c.contiguous && f.Seq != c.last+1 {
				c.checkGap(c.last+1, f.Seq-1)
			}
			c.last = f.Seq
			return f
		case "error", "resync", "lagging":
			c.t.Fatalf("ws %s: %s%s", f.Type, f.Message, f.Reason)
		}
	}
}

// checkGap fails the test if the stream holds an agent's event in [from, to].
func (c *wsClient) checkGap(from, to uint64) {
	c.t.Helper()
	if c.nats == "" {
		c.t.Fatalf("events %d to %d skipped", from, to)
	}
	nc, err := nats.Connect(c.nats)
	if err != nil {
		c.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "PORTAL_EVENTS")
	if err != nil {
		c.t.Fatal(err)
	}
	for seq := from; seq <= to; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			c.t.Fatalf("event %d skipped and not readable: %v", seq, err)
		}
		if strings.HasPrefix(m.Header.Get("ce-subject"), "agents/") {
			c.t.Fatalf("event %d (%s %s) skipped", seq, m.Subject, m.Header.Get("ce-subject"))
		}
	}
}

// control reads frames until the next one that is not an event.
func (c *wsClient) control() wsFrame {
	c.t.Helper()
	for {
		if f := c.next(); f.Type != "event" {
			return f
		}
	}
}

// state reads events until the next state change (operations and instances
// report in between).
func (c *wsClient) state() wsFrame {
	c.t.Helper()
	for {
		if f := c.event(); f.EventType == "portal.agents.v1.AgentStateChanged" {
			return f
		}
	}
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	data := t.TempDir()
	p := startPortal(t, db, data, nil)

	ws := dialWS(t, p.base)
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents"}})
	if f := ws.next(); f.Type != "subscribed" {
		t.Fatalf("first frame = %+v; want subscribed", f)
	}

	ws.contiguous, ws.nats = true, p.nats // one agent: every agent event of the stream is on its topic
	a := create(t, p.base, "e2e-agent")
	if f := ws.event(); f.EventType != "portal.agents.v1.AgentCreated" || f.Data.Agent.State != "AGENT_STATE_DRAFT" || f.Subject != "agents/"+a.ID {
		t.Fatalf("event = %+v; want AgentCreated in DRAFT", f)
	}
	var last uint64
	for _, step := range []struct{ action, state string }{
		{"provision", "AGENT_STATE_PROVISIONED"},
		{"deploy", "AGENT_STATE_DEPLOYED"},
		{"start", "AGENT_STATE_RUNNING"},
	} {
		a = act(t, p.base, a, step.action)
		if a.State != step.state {
			t.Fatalf("%s: state %s; want %s", step.action, a.State, step.state)
		}
		f := ws.state()
		if f.Data.Agent.State != step.state || f.Seq <= last {
			t.Fatalf("after %s: event %+v (last seq %d)", step.action, f, last)
		}
		last = f.Seq
	}
	ws.conn.Close(websocket.StatusNormalClosure, "")

	// Two changes while the client is away.
	a = act(t, p.base, a, "stop")
	a = act(t, p.base, a, "start")

	ws = dialWS(t, p.base)
	ws.contiguous, ws.last, ws.nats = true, last, p.nats
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents/" + a.ID}, "since": last})
	missed := []wsFrame{ws.state(), ws.state()}
	if missed[0].Data.Agent.State != "AGENT_STATE_STOPPED" || missed[1].Data.Agent.State != "AGENT_STATE_RUNNING" {
		t.Fatalf("replayed %+v; want STOPPED then RUNNING", missed)
	}
	// And it follows live from there.
	a = act(t, p.base, a, "suspend")
	if f := ws.state(); f.Data.Agent.State != "AGENT_STATE_SUSPENDED" {
		t.Fatalf("live after replay: %+v", f)
	}
	last = ws.last
	ws.conn.Close(websocket.StatusNormalClosure, "")

	// A restart of the portal (gateway included) loses nothing either: the
	// stream is on disk and the client resumes from its sequence.
	p.stop()
	p = startPortal(t, db, data, nil)
	a = act(t, p.base, a, "resume")
	ws = dialWS(t, p.base)
	ws.contiguous, ws.last, ws.nats = true, last, p.nats
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents"}, "since": last})
	if f := ws.state(); f.Data.Agent.State != "AGENT_STATE_RUNNING" {
		t.Fatalf("after restart: %+v; want RUNNING", f)
	}
	last = ws.last

	// A sequence from the future (a reset stream) asks the client to resync.
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents/" + a.ID}, "since": last + 1000})
	for {
		f := ws.next()
		if f.Type == "resync" {
			break
		}
		if f.Type != "subscribed" && f.Type != "event" {
			t.Fatalf("frame %+v; want resync", f)
		}
	}
	// Bad requests get an error frame, and the connection stays usable.
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"bad topic!"}})
	if f := ws.control(); f.Type != "error" || !strings.Contains(f.Message, "bad topic!") {
		t.Fatalf("frame %+v; want an error naming the topic", f)
	}
	ws.send(map[string]any{"type": "ping"})
	if f := ws.control(); f.Type != "pong" {
		t.Fatalf("frame %+v; want pong", f)
	}

	// Filters over REST, by either spelling of the parameter names.
	var list struct {
		Agents    []agentJSON `json:"agents"`
		TotalSize int         `json:"totalSize"`
	}
	for _, q := range []string{"states=AGENT_STATE_RUNNING&page_size=5", "states=AGENT_STATE_RUNNING&pageSize=5&labelSelector=", "query=e2e"} {
		if code := call(t, "GET", p.base+"/api/v1/agents?"+q, nil, &list); code != 200 || list.TotalSize != 1 || list.Agents[0].ID != a.ID {
			t.Errorf("GET ?%s: HTTP %d, %+v; want the one agent", q, code, list)
		}
	}
	if code := call(t, "GET", p.base+"/api/v1/agents?states=AGENT_STATE_STOPPED", nil, &list); code != 200 || list.TotalSize != 0 {
		t.Errorf("GET ?states=AGENT_STATE_STOPPED: HTTP %d, %+v; want none", code, list)
	}

	var h struct {
		Transitions []struct {
			Sequence string `json:"sequence"`
			Action   string `json:"action"`
		} `json:"transitions"`
	}
	if code := call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/history", nil, &h); code != 200 || len(h.Transitions) != 8 {
		t.Fatalf("history: HTTP %d, %d transitions; want 8", code, len(h.Transitions))
	}

	// The agent's logs stream live on /ws/logs, filtered by instance and level.
	logs, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(p.base, "http")+"/ws/logs", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.CloseNow()
	lc := &wsClient{t: t, conn: logs}
	lc.send(map[string]any{"type": "subscribe", "topics": []string{"agents/" + a.ID}, "filter": map[string]string{"instance": "0", "minLevel": "info"}})
	if f := lc.control(); f.Type != "subscribed" {
		t.Fatalf("logs subscribe: %+v", f)
	}
	a = act(t, p.base, a, "restart") // a new process logs its start
	if f := lc.event(); f.EventType != "portal.provisioning.v1.LogLine" || f.Subject != "agents/"+a.ID {
		t.Fatalf("log frame %+v; want a LogLine of the agent", f)
	}

	// Revoke tears the workload down: the process is gone, and so is the workload.
	var w struct {
		Workload struct {
			Instances []struct {
				Handle string `json:"handle"`
			} `json:"instances"`
		} `json:"workload"`
	}
	call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/workload", nil, &w)
	pid, _ := strconv.Atoi(w.Workload.Instances[0].Handle)
	a = act(t, p.base, a, "revoke")
	if a.State != "AGENT_STATE_REVOKED" {
		t.Fatalf("revoke: %+v", a)
	}
	if pid == 0 || syscall.Kill(pid, 0) == nil {
		t.Errorf("agent process %d still runs after revoke", pid)
	}
	var e agentResp
	if code := call(t, "GET", p.base+"/api/v1/agents/"+a.ID+"/workload", nil, &e); code != http.StatusNotFound {
		t.Errorf("workload after revoke: HTTP %d %s; want 404", code, e.Message)
	}
}

// TestBadInput sends malformed requests through the real gateway: each gets
// a 400 (or 413) naming the problem, and nothing is written.
func TestBadInput(t *testing.T) {
	t.Parallel()
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), nil)
	agentsURL := p.base + "/api/v1/agents"
	big := `{"name":"big","kind":"AGENT_KIND_API","description":"` + strings.Repeat("x", 10<<20) + `"}`
	tests := []struct {
		name, method, url string
		body              any
		code              int
		mention           string
	}{
		{"empty name", "POST", agentsURL, `{"name":"","kind":"AGENT_KIND_API"}`, 400, "agent.name"},
		{"no name", "POST", agentsURL, `{"kind":"AGENT_KIND_API"}`, 400, "agent.name"},
		{"oversized name", "POST", agentsURL, `{"name":"` + strings.Repeat("a", 64) + `","kind":"AGENT_KIND_API"}`, 400, "agent.name"},
		{"ill-formed name", "POST", agentsURL, `{"name":"Not A DNS Label","kind":"AGENT_KIND_API"}`, 400, "agent.name"},
		{"unknown field", "POST", agentsURL, `{"name":"ok","kind":"AGENT_KIND_API","colour":"red"}`, 400, "colour"},
		{"unknown enum name", "POST", agentsURL, `{"name":"ok","kind":"AGENT_KIND_TOASTER"}`, 400, "AGENT_KIND_TOASTER"},
		{"unknown enum number", "POST", agentsURL, `{"name":"ok","kind":99}`, 400, "agent.kind"},
		{"malformed JSON", "POST", agentsURL, `{"name":`, 400, ""},
		{"wrong type", "POST", agentsURL, `{"name":42,"kind":"AGENT_KIND_API"}`, 400, "name"},
		{"10 MB body", "POST", agentsURL, big, 413, "limit"},
		{"bad page token", "GET", agentsURL + "?page_token=garbage", nil, 400, "page_token"},
		{"bad page size", "GET", agentsURL + "?page_size=100000", nil, 400, "page_size"},
		{"bad id", "GET", agentsURL + "/not-a-uuid", nil, 400, "id"},
		{"unknown query parameter", "GET", agentsURL + "?state=AGENT_STATE_RUNNING", nil, 400, `"state"`},
		{"unknown state in filter", "GET", agentsURL + "?states=AGENT_STATE_ASLEEP", nil, 400, "AGENT_STATE_ASLEEP"},
		{"unknown agent", "POST", agentsURL + "/0196f7a0-0000-7000-8000-000000000000:start", `{}`, 404, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r agentResp
			code := call(t, tc.method, tc.url, tc.body, &r)
			if code != tc.code || !strings.Contains(r.Message, tc.mention) {
				t.Errorf("%s %s: HTTP %d %q; want %d naming %q", tc.method, tc.name, code, r.Message, tc.code, tc.mention)
			}
		})
	}
	var list struct {
		TotalSize int `json:"totalSize"`
	}
	if code := call(t, "GET", agentsURL, nil, &list); code != 200 || list.TotalSize != 0 {
		t.Errorf("after bad input: HTTP %d, %d agents; want none", code, list.TotalSize)
	}
	// The API is still fine.
	create(t, p.base, "still-fine")
}

// TestExternalNATS runs the portal against the NATS server on
// 127.0.0.1:4222 (Debian's, an older release than the embedded one), so the
// client code is proven against a separate server.
func TestExternalNATS(t *testing.T) {
	t.Parallel()
	url := os.Getenv("PORTAL_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second); err != nil {
		t.Fatalf("no NATS server at %s (start one as the README says): %v", url, err)
	} else {
		c.Close()
	}
	p := startPortal(t, pgtest.NewDatabase(t), t.TempDir(), map[string]string{"NATS_URL": url})
	ws := dialWS(t, p.base)
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents"}})
	ws.next()
	name := fmt.Sprintf("ext-%d", time.Now().UnixNano()%1e9)
	a := create(t, p.base, name)
	if f := ws.event(); f.Data.Agent.Name != name {
		t.Fatalf("event %+v; want %s created", f, name)
	}
	a = act(t, p.base, a, "provision")
	f := ws.state()
	if f.Data.Agent.State != "AGENT_STATE_PROVISIONED" {
		t.Fatalf("event %+v; want PROVISIONED", f)
	}
	ws.conn.Close(websocket.StatusNormalClosure, "")
	act(t, p.base, a, "deploy")
	ws = dialWS(t, p.base)
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents/" + a.ID}, "since": f.Seq})
	if g := ws.state(); g.Data.Agent.State != "AGENT_STATE_DEPLOYED" {
		t.Fatalf("replayed %+v; want DEPLOYED", g)
	}
}

// TestOperability checks what an SRE relies on: the OpenAPI document, the
// index, readiness details, Prometheus metrics, gRPC health and reflection on
// the gRPC port, and the migrate and version commands.
func TestOperability(t *testing.T) {
	// Not parallel: OpenTelemetry's providers are process-wide, so with other
	// portals starting in this test process the figures could land in their
	// registry rather than this one's.
	db := pgtest.NewDatabase(t)
	var out bytes.Buffer
	env := func(k string) string { return map[string]string{"DATABASE_URL": db, "PORTAL_DATA_DIR": t.TempDir()}[k] }
	if err := run(context.Background(), []string{"migrate"}, env, &out); err != nil || !strings.Contains(out.String(), "migrations applied") {
		t.Fatalf("portal migrate = %v: %s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, env, &out); err != nil || strings.TrimSpace(out.String()) == "" {
		t.Fatalf("portal version = %v, %q", err, out.String())
	}
	if err := run(context.Background(), []string{"explode"}, env, &out); err == nil || !strings.Contains(err.Error(), "explode") {
		t.Fatalf("portal explode = %v; want an error naming the command", err)
	}
	if err := run(context.Background(), nil, func(k string) string {
		return map[string]string{"DATABASE_URL": db, "LOG_LEVEL": "chatty"}[k]
	}, &out); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Fatalf("bad LOG_LEVEL: %v; want an error naming it", err)
	}

	p := startPortal(t, db, t.TempDir(), nil)
	var doc struct {
		Swagger string         `json:"swagger"`
		Paths   map[string]any `json:"paths"`
	}
	if code := call(t, "GET", p.base+"/api/v1/openapi.json", nil, &doc); code != 200 || doc.Swagger != "2.0" ||
		doc.Paths["/api/v1/agents/{id}:start"] == nil || doc.Paths["/api/v1/agents/{agentId}/history"] == nil {
		t.Errorf("openapi: HTTP %d, swagger %q, %d paths", code, doc.Swagger, len(doc.Paths))
	}
	var index struct {
		Links map[string]string `json:"links"`
	}
	if code := call(t, "GET", p.base+"/api/v1/", nil, &index); code != 200 || index.Links["openapi"] == "" {
		t.Errorf("index: HTTP %d %+v", code, index)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if code := call(t, "GET", p.base+"/readyz", nil, &ready); code != 200 || ready.Checks["agents"] != "ok" || ready.Checks["nats"] != "ok" || ready.Checks["events"] != "ok" {
		t.Errorf("readyz: HTTP %d %+v", code, ready)
	}
	create(t, p.base, "metered")
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(p.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "portal_outbox_published_total") && strings.Contains(string(b), "rpc_server_call_duration") &&
			strings.Contains(string(b), `portal_ws_events_total{`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks outbox, RPC and WebSocket figures:\n%.2000s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hr, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "portal.agents.v1.AgentService"})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health = %v, %v", hr, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	rr, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, s := range rr.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	if !slices.Contains(services, "portal.agents.v1.AgentService") {
		t.Errorf("reflection lists %v; want portal.agents.v1.AgentService", services)
	}
	// The gRPC API is usable directly, as other platform services use it,
	// with an API token.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+p.admin)
	resp, err := agentsv1.NewAgentServiceClient(conn).ListAgents(ctx, &agentsv1.ListAgentsRequest{})
	if err != nil || resp.GetTotalSize() != 1 {
		t.Errorf("ListAgents over gRPC = %v, %v", resp, err)
	}
}
