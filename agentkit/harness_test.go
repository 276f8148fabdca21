package agentkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/platformportal/portal/agentkit"
	"github.com/platformportal/portal/agentkit/internal/agenttest"
)

// testHandler is the handler of the SDK tests: each task type exercises one
// way a handler can end.
func testHandler(ctx context.Context, t agentkit.Task, cfg agentkit.Config) (any, error) {
	switch t.Type {
	case "echo":
		return t.Input, nil
	case "nothing":
		return nil, nil
	case "fail":
		return map[string]any{"partial": true}, errors.New("asked to fail")
	case "panic":
		panic("boom")
	case "block":
		<-ctx.Done()
		return nil, ctx.Err()
	case "config":
		return cfg, nil
	}
	return nil, fmt.Errorf("unknown task type %q", t.Type)
}

// agentOpts configure startAgent; the zero value starts one replica with
// its own NATS server.
type agentOpts struct {
	natsURL  string // shared by replicas; a new server when empty
	id       string // a new id when empty
	instance string
	config   string // AGENT_CONFIG
	env      map[string]string
	validate func(agentkit.Config) error
	// noWait returns as soon as the HTTP address is known, before ready.
	noWait bool
}

// testAgent is one replica running agentkit.Run in the test process.
type testAgent struct {
	ID      string
	NATSURL string
	NC      *nats.Conn // a client connection, not the agent's
	Logs    *agenttest.Logs
	URL     string // http://addr
	Exits   chan int
	start   time.Time
	cancel  context.CancelFunc
	done    chan error
}

func startAgent(tb testing.TB, o agentOpts) *testAgent {
	tb.Helper()
	if o.natsURL == "" {
		o.natsURL = agenttest.StartNATS(tb)
	}
	if o.id == "" {
		o.id = agenttest.NewID()
	}
	env := map[string]string{
		"AGENT_ID":            o.id,
		"AGENT_NAME":          "test-agent",
		"AGENT_KIND":          "blank",
		"AGENT_VERSION":       "1.0.0",
		"AGENT_INSTANCE":      o.instance,
		"AGENT_ADDR":          "127.0.0.1:0",
		"NATS_URL":            o.natsURL,
		"AGENT_CONFIG":        o.config,
		"AGENT_DRAIN_TIMEOUT": "5s",
	}
	for k, v := range o.env {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &testAgent{
		ID:      o.id,
		NATSURL: o.natsURL,
		Logs:    &agenttest.Logs{},
		Exits:   make(chan int, 10),
		start:   time.Now(),
		cancel:  cancel,
		done:    make(chan error, 1),
	}
	opts := agentkit.Options{
		Getenv:         agenttest.Getenv(env),
		Stdout:         a.Logs,
		Handler:        testHandler,
		ValidateConfig: o.validate,
		Registry:       prometheus.NewRegistry(),
		Exit:           func(code int) { a.Exits <- code },
	}
	go func() { a.done <- agentkit.Run(ctx, opts) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-a.done:
			if err != nil {
				tb.Errorf("Run() = %v, want nil", err)
			}
		case <-time.After(20 * time.Second):
			tb.Errorf("Run did not return 20s after its context ended")
		}
	})
	a.NC = agenttest.Connect(tb, o.natsURL)
	a.URL = "http://" + a.Logs.Addr(tb)
	if !o.noWait {
		a.Logs.WaitFor(tb, "agent ready", 10*time.Second)
	}
	return a
}

// stop ends Run's context and returns Run's error and how long it took.
func (a *testAgent) stop(tb testing.TB) (time.Duration, error) {
	tb.Helper()
	start := time.Now()
	a.cancel()
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		return time.Since(start), err
	case <-time.After(20 * time.Second):
		tb.Fatal("Run did not return 20s after its context ended")
		return 0, nil
	}
}

func (a *testAgent) task(tb testing.TB, typ string, input any) agentkit.Result {
	tb.Helper()
	req := map[string]any{"type": typ}
	if input != nil {
		req["input"] = input
	}
	var res agentkit.Result
	agenttest.Request(tb, a.NC, agentkit.TasksSubject(a.ID), req, &res)
	return res
}

func (a *testAgent) control(tb testing.TB, c any) agentkit.ControlReply {
	tb.Helper()
	var reply agentkit.ControlReply
	agenttest.Request(tb, a.NC, agentkit.ControlSubject(a.ID), c, &reply)
	return reply
}

func (a *testAgent) get(tb testing.TB, path string) (int, map[string]any) {
	tb.Helper()
	code, body := agenttest.Get(tb, a.URL+path)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatalf("GET %s: body %q is not a JSON object: %v", path, body, err)
	}
	return code, m
}

// waitStatus polls path until it answers with code.
func (a *testAgent) waitStatus(tb testing.TB, path string, code int) {
	tb.Helper()
	agenttest.Eventually(tb, 10*time.Second, func() error {
		got, body, err := agenttest.TryGet(a.URL + path)
		if err != nil {
			return err
		}
		if got != code {
			return fmt.Errorf("GET %s = %d %s, want %d", path, got, body, code)
		}
		return nil
	})
}

func (a *testAgent) metrics(tb testing.TB) []byte {
	tb.Helper()
	code, body := agenttest.Get(tb, a.URL+"/metrics")
	if code != 200 {
		tb.Fatalf("GET /metrics = %d, want 200", code)
	}
	return body
}

// results subscribes to the agent's results subject.
func (a *testAgent) results(tb testing.TB) chan *nats.Msg {
	tb.Helper()
	ch := make(chan *nats.Msg, 1024)
	sub, err := a.NC.ChanSubscribe(agentkit.ResultsSubject(a.ID), ch)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := a.NC.Flush(); err != nil {
		tb.Fatal(err)
	}
	return ch
}

func ptr[T any](v T) *T { return &v }
