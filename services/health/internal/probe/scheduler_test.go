package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func noJitter(time.Duration) time.Duration { return 0 }

// transitions collects a scheduler's events for a test.
type transitions struct {
	mu  sync.Mutex
	all []Transition
}

func (c *transitions) add(tr Transition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, tr)
}

func (c *transitions) list() []Transition {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.all)
}

func (c *transitions) edges() []string {
	var out []string
	for _, tr := range c.list() {
		out = append(out, tr.From.String()+">"+tr.To.String())
	}
	return out
}

func (c *transitions) reached(s State) func() bool {
	return func() bool {
		l := c.list()
		return len(l) > 0 && l[len(l)-1].To == s
	}
}

func newTestScheduler(tb testing.TB, cfg Config) *Scheduler {
	tb.Helper()
	if cfg.Jitter == nil {
		cfg.Jitter = noJitter
	}
	s, err := NewScheduler(cfg)
	if err != nil {
		tb.Fatalf("NewScheduler() = %v", err)
	}
	tb.Cleanup(func() { stopScheduler(tb, s) })
	return s
}

func httpTarget(id, url string, period time.Duration, success, failure int) Target {
	return Target{ID: id, AgentID: "agent-" + id, Spec: Spec{
		Kind:             KindHTTP,
		HTTPGet:          &HTTPGetAction{URL: url},
		Period:           period,
		Timeout:          period * 3 / 4,
		SuccessThreshold: success,
		FailureThreshold: failure,
	}}
}

// scripted is a Prober returning a fixed sequence of results, then successes;
// each result's Message is its index, so tests see which one caused what.
type scripted struct {
	script string
	n      atomic.Int64
}

func (p *scripted) Probe(ctx context.Context, spec Spec) Result {
	i := int(p.n.Add(1) - 1)
	ok := i >= len(p.script) || p.script[i] == 's'
	return Result{OK: ok, Message: strconv.Itoa(i), Time: time.Now(), Latency: time.Microsecond}
}

// TestSchedulerCountsLikeKubernetes checks which result, by index, causes
// each transition.
func TestSchedulerCountsLikeKubernetes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		success, failure int
		script           string
		want             []string // "from>to@index"
	}{
		{"thresholds 2 and 3", 2, 3, "ssfffss", []string{"unknown>healthy@1", "healthy>degraded@2", "degraded>unhealthy@4", "unhealthy>healthy@6"}},
		{"defaults 1 and 3", 1, 3, "sffsfff", []string{"unknown>healthy@0", "healthy>degraded@1", "degraded>healthy@3", "healthy>degraded@4", "degraded>unhealthy@6", "unhealthy>healthy@7"}},
		{"failing from the start", 1, 2, "ffs", []string{"unknown>unhealthy@1", "unhealthy>healthy@2"}},
		{"flapping below both thresholds", 3, 3, "sssffsffsss", []string{"unknown>healthy@2", "healthy>degraded@3", "degraded>healthy@10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got transitions
			p := &scripted{script: tt.script}
			s := newTestScheduler(t, Config{Prober: p, OnTransition: got.add})
			tg := httpTarget("i-1", "http://127.0.0.1:1/", 10*time.Millisecond, tt.success, tt.failure)
			if err := s.Add(tg); err != nil {
				t.Fatalf("Add() = %v", err)
			}
			waitFor(t, 5*time.Second, "the script to run", func() bool { return p.n.Load() > int64(len(tt.script)+2) })
			var edges []string
			for _, tr := range got.list() {
				edges = append(edges, fmt.Sprintf("%s>%s@%s", tr.From, tr.To, tr.Result.Message))
				if tr.TargetID != "i-1" || tr.AgentID != "agent-i-1" || tr.Time.IsZero() {
					t.Errorf("transition = %+v, want target i-1, agent agent-i-1 and a time", tr)
				}
			}
			if !slices.Equal(edges, tt.want) {
				t.Errorf("transitions for %q = %v, want %v", tt.script, edges, tt.want)
			}
		})
	}
}

// TestSchedulerServerStartsFailing drives the states with a real server.
func TestSchedulerServerStartsFailing(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	var got transitions
	s := newTestScheduler(t, Config{OnTransition: got.add})
	if err := s.Add(httpTarget("i-1", srv.URL, 40*time.Millisecond, 2, 3)); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	if st, _ := s.Status("i-1"); st.State != StateUnknown {
		t.Errorf("Status().State before any probe = %v, want unknown", st.State)
	}
	waitFor(t, 5*time.Second, "healthy", got.reached(StateHealthy))
	srv.failing.Store(true)
	waitFor(t, 5*time.Second, "unhealthy", got.reached(StateUnhealthy))
	st, _ := s.Status("i-1")
	if st.ConsecutiveFailures < 3 || st.Last.OK || st.Last.Message != "HTTP 503" {
		t.Errorf("Status() when unhealthy = %+v, want >= 3 failures and last result HTTP 503", st)
	}
	srv.failing.Store(false)
	waitFor(t, 5*time.Second, "healthy again", got.reached(StateHealthy))

	want := []string{"unknown>healthy", "healthy>degraded", "degraded>unhealthy", "unhealthy>healthy"}
	if edges := got.edges(); !slices.Equal(edges, want) {
		t.Errorf("transitions = %v, want %v", edges, want)
	}
	// Exactly failureThreshold failures led to unhealthy and exactly
	// successThreshold successes back: the history around each transition's
	// result shows the runs.
	h := s.History("i-1")
	trs := got.list()
	checkRun(t, h, trs[2].Result, false, 3)
	checkRun(t, h, trs[3].Result, true, 2)
}

// checkRun finds res in history and checks that it ends a run of exactly n
// results with OK == ok.
func checkRun(tb testing.TB, history []Result, res Result, ok bool, n int) {
	tb.Helper()
	at := slices.IndexFunc(history, func(r Result) bool { return r.Time.Equal(res.Time) })
	if at < n {
		tb.Fatalf("result at %v not in history far enough (index %d of %d)", res.Time, at, len(history))
	}
	for i := at - n + 1; i <= at; i++ {
		if history[i].OK != ok {
			tb.Errorf("history[%d].OK = %v, want %v (run of %d ending at %d)", i, history[i].OK, ok, n, at)
		}
	}
	if history[at-n].OK == ok {
		tb.Errorf("history[%d].OK = %v, want the run to start at %d", at-n, ok, at-n+1)
	}
}

func TestSchedulerTimeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	var got transitions
	s := newTestScheduler(t, Config{OnTransition: got.add})
	tg := httpTarget("i-1", srv.URL, 100*time.Millisecond, 1, 2)
	tg.Spec.Timeout = 30 * time.Millisecond
	if err := s.Add(tg); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	waitFor(t, 5*time.Second, "unhealthy", got.reached(StateUnhealthy))
	for _, r := range s.History("i-1") {
		if r.OK || r.Message != "timeout after 30ms" || r.Latency > 500*time.Millisecond {
			t.Errorf("History() result = %+v, want a failure \"timeout after 30ms\" near 30ms", r)
		}
	}
}

func TestSchedulerInitialDelay(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	var got transitions
	s := newTestScheduler(t, Config{OnTransition: got.add})
	tg := httpTarget("i-1", srv.URL, 20*time.Millisecond, 1, 3)
	tg.Spec.InitialDelay = 300 * time.Millisecond
	added := time.Now()
	if err := s.Add(tg); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	time.Sleep(150 * time.Millisecond)
	if st, _ := s.Status("i-1"); st.State != StateUnknown || srv.hits.Load() != 0 {
		t.Errorf("during the initial delay: state %v, %d probes; want unknown, 0", st.State, srv.hits.Load())
	}
	waitFor(t, 5*time.Second, "healthy", got.reached(StateHealthy))
	if first := s.History("i-1")[0].Time; first.Sub(added) < tg.Spec.InitialDelay {
		t.Errorf("first probe %v after Add, want at least the initial delay %v", first.Sub(added), tg.Spec.InitialDelay)
	}
}

func TestSchedulerRemoveStopsProbing(t *testing.T) {
	t.Parallel()
	srv := newFlakyServer(t)
	s := newTestScheduler(t, Config{})
	if err := s.Add(httpTarget("i-1", srv.URL, 20*time.Millisecond, 1, 3)); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	waitFor(t, 5*time.Second, "two probes", func() bool { return srv.hits.Load() >= 2 })
	if !s.Remove("i-1") {
		t.Fatalf("Remove(i-1) = false, want true")
	}
	before := srv.hits.Load()
	time.Sleep(200 * time.Millisecond) // ten periods
	// One probe may have been in flight when Remove ran.
	if after := srv.hits.Load(); after > before+1 {
		t.Errorf("probes after Remove = %d, want at most 1", after-before)
	}
	if _, ok := s.Status("i-1"); ok || s.Len() != 0 || s.History("i-1") != nil {
		t.Errorf("after Remove: Status ok %v, Len %d, History %v; want false, 0, nil", ok, s.Len(), s.History("i-1"))
	}
	if s.Remove("i-1") {
		t.Errorf("second Remove(i-1) = true, want false")
	}
}

func TestSchedulerUpdate(t *testing.T) {
	t.Parallel()
	bad, good := newFlakyServer(t), newFlakyServer(t)
	bad.failing.Store(true)
	var got transitions
	s := newTestScheduler(t, Config{OnTransition: got.add})
	if err := s.Add(httpTarget("i-1", bad.URL, 20*time.Millisecond, 1, 2)); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	waitFor(t, 5*time.Second, "unhealthy", got.reached(StateUnhealthy))
	if err := s.Update(httpTarget("i-1", good.URL, 20*time.Millisecond, 1, 2)); err != nil {
		t.Fatalf("Update() = %v", err)
	}
	badHits := bad.hits.Load()
	waitFor(t, 5*time.Second, "healthy", got.reached(StateHealthy))
	time.Sleep(60 * time.Millisecond)
	if n := bad.hits.Load(); n > badHits+1 {
		t.Errorf("old URL probed %d times after Update, want at most 1 (in flight)", n-badHits)
	}
	if st, _ := s.Status("i-1"); st.Target.Spec.HTTPGet.URL != good.URL {
		t.Errorf("Status().Target URL = %q, want %q", st.Target.Spec.HTTPGet.URL, good.URL)
	}
}

func TestSchedulerHistory(t *testing.T) {
	t.Parallel()
	p := &scripted{script: "sfsfsfsf"}
	s := newTestScheduler(t, Config{Prober: p, HistorySize: 3})
	if err := s.Add(httpTarget("i-1", "http://127.0.0.1:1/", 10*time.Millisecond, 1, 3)); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	waitFor(t, 5*time.Second, "five probes", func() bool { return p.n.Load() >= 5 })
	h := s.History("i-1")
	if len(h) != 3 {
		t.Fatalf("len(History()) = %d, want 3", len(h))
	}
	a, _ := strconv.Atoi(h[0].Message)
	for i, r := range h {
		if r.Message != strconv.Itoa(a+i) {
			t.Errorf("History()[%d].Message = %q, want %d (oldest first, consecutive)", i, r.Message, a+i)
		}
	}
}

// gate is a Prober that holds each probe briefly and records how many ran
// at once.
type gate struct {
	inFlight, max, total atomic.Int64
}

func (g *gate) Probe(ctx context.Context, spec Spec) Result {
	n := g.inFlight.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-time.After(10 * time.Millisecond):
	case <-ctx.Done():
	}
	g.inFlight.Add(-1)
	g.total.Add(1)
	return Result{OK: true, Time: time.Now()}
}

func TestSchedulerBoundsConcurrency(t *testing.T) {
	t.Parallel()
	g := &gate{}
	s := newTestScheduler(t, Config{Prober: g, Concurrency: 4})
	for i := range 50 {
		if err := s.Add(httpTarget(fmt.Sprint("i-", i), "http://127.0.0.1:1/", 50*time.Millisecond, 1, 3)); err != nil {
			t.Fatalf("Add() = %v", err)
		}
	}
	waitFor(t, 10*time.Second, "100 probes", func() bool { return g.total.Load() >= 100 })
	if m := g.max.Load(); m > 4 || m < 2 {
		t.Errorf("max probes in flight = %d, want 2..4 (the pool size)", m)
	}
}

func TestSchedulerRefuses(t *testing.T) {
	t.Parallel()
	s, err := NewScheduler(Config{Jitter: noJitter})
	if err != nil {
		t.Fatalf("NewScheduler() = %v", err)
	}
	tg := httpTarget("i-1", "http://127.0.0.1:1/", time.Hour, 1, 3)
	if err := s.Add(tg); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	if err := s.Add(tg); err == nil {
		t.Errorf("Add(duplicate) = nil, want an error")
	}
	bad := tg
	bad.ID = "i-2"
	bad.Spec.Period = 0
	var fe *FieldError
	if err := s.Add(bad); !errors.As(err, &fe) || fe.Field != "spec.period" {
		t.Errorf("Add(zero period) = %v, want a FieldError for spec.period", err)
	}
	if err := s.Update(Target{ID: "nope", Spec: tg.Spec}); err == nil {
		t.Errorf("Update(unknown) = nil, want an error")
	}
	exec := tg
	exec.ID = "i-3"
	exec.Spec = Spec{Kind: KindExec, Exec: &ExecAction{Command: []string{"true"}}, Period: time.Second, Timeout: time.Millisecond, SuccessThreshold: 1, FailureThreshold: 1}
	if err := s.Add(exec); !errors.As(err, &fe) || fe.Field != "spec.exec" {
		t.Errorf("Add(exec not allowed) = %v, want a FieldError for spec.exec", err)
	}
	stopScheduler(t, s)
	if err := s.Add(Target{ID: "i-4", Spec: tg.Spec}); !errors.Is(err, ErrStopped) {
		t.Errorf("Add() after Stop = %v, want ErrStopped", err)
	}
	if _, err := NewScheduler(Config{Concurrency: -1}); err == nil {
		t.Errorf("NewScheduler(Concurrency -1) = nil error, want one")
	}
}

func TestSchedulerExec(t *testing.T) {
	t.Parallel()
	var got transitions
	s := newTestScheduler(t, Config{OnTransition: got.add})
	tg := Target{ID: "i-1", AllowExec: true, Spec: Spec{
		Kind:             KindExec,
		Exec:             &ExecAction{Command: []string{"/bin/sh", "-c", "exit 0"}},
		Period:           50 * time.Millisecond,
		Timeout:          40 * time.Millisecond,
		SuccessThreshold: 1,
		FailureThreshold: 1,
	}}
	if err := s.Add(tg); err != nil {
		t.Fatalf("Add() = %v", err)
	}
	waitFor(t, 5*time.Second, "healthy", got.reached(StateHealthy))
	tg.Spec.Exec = &ExecAction{Command: []string{"/bin/sh", "-c", "sleep 5"}}
	if err := s.Update(tg); err != nil {
		t.Fatalf("Update() = %v", err)
	}
	waitFor(t, 5*time.Second, "unhealthy", got.reached(StateUnhealthy))
	if st, _ := s.Status("i-1"); st.Last.Message != "timeout after 40ms" {
		t.Errorf("Status().Last.Message = %q, want timeout after 40ms", st.Last.Message)
	}
}

// TestSchedulerStopLeavesNoGoroutines is not parallel so that goleak sees
// only this test's goroutines (parallel tests are paused meanwhile). The work
// runs in a subtest so that its cleanups (the servers) finish before goleak
// looks.
func TestSchedulerStopLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Run("run", func(t *testing.T) {
		srv := newFlakyServer(t)
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(slow.Close)
		tcp := newTCPListener(t)
		addr, _ := newGRPCHealthServer(t)

		s, err := NewScheduler(Config{Concurrency: 8})
		if err != nil {
			t.Fatalf("NewScheduler() = %v", err)
		}
		for i := range 20 {
			specs := []Spec{
				{Kind: KindHTTP, HTTPGet: &HTTPGetAction{URL: srv.URL}},
				{Kind: KindHTTP, HTTPGet: &HTTPGetAction{URL: slow.URL}},
				{Kind: KindTCP, TCPSocket: &TCPSocketAction{Address: tcp}},
				{Kind: KindGRPC, GRPC: &GRPCAction{Address: addr}},
			}
			for j, sp := range specs {
				sp.Period, sp.Timeout, sp.SuccessThreshold, sp.FailureThreshold = 50*time.Millisecond, 45*time.Millisecond, 1, 1
				if err := s.Add(Target{ID: fmt.Sprintf("%d-%d", i, j), Spec: sp}); err != nil {
					t.Fatalf("Add() = %v", err)
				}
			}
		}
		waitFor(t, 5*time.Second, "probes", func() bool { return srv.hits.Load() >= 40 })
		start := time.Now()
		stopScheduler(t, s)
		if d := time.Since(start); d > time.Second {
			t.Errorf("Stop() took %v, want in-flight probes cancelled promptly", d)
		}
	})
}
