package agentkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// agent is one running replica.
type agent struct {
	s    settings
	opts Options
	log  *slog.Logger
	m    *metrics

	// conf is replaced, never modified, so handlers can keep the snapshot
	// they were given; confMu serialises the read-modify-write of patches.
	conf   atomic.Pointer[snapshot]
	confMu sync.Mutex

	// nc is set once, under mu, before any subscription exists; the NATS
	// callbacks and run's goroutine read it without mu.
	nc *nats.Conn

	// mu guards the task subscription and the states readiness is made of,
	// so /readyz never reports a state the NATS server has not seen yet.
	mu       sync.Mutex
	taskSub  *nats.Subscription
	retired  []*nats.Subscription // paused subscriptions, possibly still draining
	paused   bool
	draining bool
	started  bool

	// sem bounds the tasks handled at once; inflight counts them for the drain.
	sem      chan struct{}
	inflight tracker
	// workCtx is the parent of every task's context. It outlives Run's ctx,
	// which ends when the drain begins, and ends when the drain times out.
	workCtx    context.Context
	cancelWork context.CancelFunc

	completed atomic.Int64
	crashed   atomic.Bool

	leakMu sync.Mutex
	leaked [][]byte
}

// snapshot is the effective config with its knobs already parsed.
type snapshot struct {
	cfg Config
	k   knobs
}

func newAgent(s settings, opts Options) (*agent, error) {
	m, err := newMetrics(opts.Registry, s)
	if err != nil {
		return nil, err
	}
	k, err := parseKnobs(s.Config)
	if err != nil {
		// loadSettings validated it; this guards the invariant.
		return nil, fmt.Errorf("AGENT_CONFIG: %w", err)
	}
	a := &agent{
		s:    s,
		opts: opts,
		log: slog.New(slog.NewJSONHandler(opts.Stdout, nil)).With(
			"agent_id", s.AgentID, "agent_name", s.Name, "kind", s.Kind, "instance", s.Instance),
		m:   m,
		sem: make(chan struct{}, s.MaxInFlight),
	}
	a.conf.Store(&snapshot{cfg: s.Config, k: k})
	return a, nil
}

func (a *agent) run(ctx context.Context) error {
	a.workCtx, a.cancelWork = context.WithCancel(context.WithoutCancel(ctx))
	defer a.cancelWork()

	ln, err := net.Listen("tcp", a.s.Addr)
	if err != nil {
		return fmt.Errorf("listen on AGENT_ADDR %s: %w", a.s.Addr, err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.log.Info("http listening", "addr", addr, "version", Version, "requested_version", a.s.RequestedVersion)

	if err := a.connect(); err != nil {
		a.closeHTTP(srv)
		return err
	}

	startupErr := a.startup(ctx)
	if startupErr == nil && ctx.Err() == nil {
		a.log.Info("agent ready", "addr", addr)
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			startupErr = fmt.Errorf("serve http on %s: %w", addr, err)
		}
	}
	// The error is returned, not logged: the caller reports it once.
	a.drain()
	a.closeHTTP(srv)
	a.log.Info("agent stopped")
	return startupErr
}

func (a *agent) connect() error {
	nc, err := nats.Connect(a.s.NATSURL,
		nats.Name(fmt.Sprintf("agent %s %s/%s", a.s.Name, a.s.AgentID, a.s.Instance)),
		// Once connected, keep trying forever: /readyz reports the outage
		// and the subscriptions come back by themselves.
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			a.log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { a.log.Info("nats reconnected") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			a.log.Warn("nats async error", "subject", subject, "err", err)
		}),
	)
	if err != nil {
		// The URL is not in the message: it may carry credentials.
		return fmt.Errorf("connect to NATS_URL: %w", err)
	}
	// /readyz may already be reading it.
	a.mu.Lock()
	a.nc = nc
	a.mu.Unlock()
	if _, err := nc.Subscribe(ControlSubject(a.s.AgentID), a.onControl); err != nil {
		nc.Close()
		return fmt.Errorf("subscribe to %s: %w", ControlSubject(a.s.AgentID), err)
	}
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		nc.Close()
		return fmt.Errorf("subscribe to %s: %w", ControlSubject(a.s.AgentID), err)
	}
	a.log.Info("nats connected", "control_subject", ControlSubject(a.s.AgentID))
	return nil
}

// startup waits out startup_delay_ms, then starts taking tasks unless a
// control message paused the agent meanwhile. A nil error with ctx done
// means the agent was stopped before it was ready.
func (a *agent) startup(ctx context.Context) error {
	if d := a.conf.Load().k.startupDelay; d > 0 {
		a.log.Info("delaying startup", "delay_ms", d.Milliseconds())
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.paused {
		if err := a.subscribeTasksLocked(); err != nil {
			return err
		}
	}
	a.started = true
	return nil
}

func (a *agent) subscribeTasksLocked() error {
	sub, err := a.nc.QueueSubscribe(TasksSubject(a.s.AgentID), QueueGroup(a.s.AgentID), a.onTask)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", TasksSubject(a.s.AgentID), err)
	}
	// The server has the subscription once the flush returns, so a task sent
	// after /readyz says ready (or after a resume reply) reaches this replica.
	if err := a.nc.FlushTimeout(5 * time.Second); err != nil {
		a.log.Warn("nats flush after subscribe", "err", err)
	}
	a.taskSub = sub
	return nil
}

// stopTasksLocked removes the task subscription's interest and lets the
// messages already delivered to it still be handled, so none is lost.
func (a *agent) stopTasksLocked() {
	if a.taskSub == nil {
		return
	}
	if err := a.taskSub.Drain(); err != nil {
		a.log.Warn("drain task subscription", "err", err)
	}
	// After the flush the server sends this replica no more tasks; holding
	// mu until then keeps /readyz from reporting not-ready any earlier.
	// Disconnected, there is no server to tell: it dropped the interest.
	if a.nc.IsConnected() {
		if err := a.nc.FlushTimeout(time.Second); err != nil {
			a.log.Warn("nats flush after unsubscribe", "err", err)
		}
	}
	a.retired = append(a.retired, a.taskSub)
	a.taskSub = nil
}

func (a *agent) pause() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.paused {
		return
	}
	a.stopTasksLocked()
	a.paused = true
	a.m.paused.Set(1)
}

var errDraining = errors.New("agent is draining")

func (a *agent) resume() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.draining {
		return errDraining
	}
	if !a.paused {
		return nil
	}
	// Before startup is done, startup itself subscribes.
	if a.started {
		if err := a.subscribeTasksLocked(); err != nil {
			return err
		}
	}
	a.paused = false
	a.m.paused.Set(0)
	return nil
}

// drain stops taking tasks, waits for the ones in flight up to the drain
// timeout, abandons the rest, and closes the NATS connection.
func (a *agent) drain() {
	if a.nc == nil {
		return
	}
	a.mu.Lock()
	a.draining = true
	a.stopTasksLocked()
	subs := a.retired
	a.mu.Unlock()

	a.log.Info("draining", "in_flight", a.inflight.count(), "timeout", a.s.DrainTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), a.s.DrainTimeout)
	defer cancel()
	err := waitSubsClosed(ctx, subs)
	if err == nil {
		err = a.inflight.wait(ctx)
	}
	if err != nil {
		a.log.Warn("drain timeout passed, abandoning tasks", "in_flight", a.inflight.count())
		a.cancelWork()
	}
	// Replies already published must leave before the connection closes.
	if a.nc.IsConnected() {
		if err := a.nc.FlushTimeout(time.Second); err != nil {
			a.log.Warn("nats flush before close", "err", err)
		}
	}
	a.nc.Close()
}

// waitSubsClosed waits until every subscription has finished draining, that
// is, until each message delivered to it has been passed to the callback.
func waitSubsClosed(ctx context.Context, subs []*nats.Subscription) error {
	for _, sub := range subs {
		ch := sub.StatusChanged(nats.SubscriptionClosed)
		if !sub.IsValid() {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (a *agent) closeHTTP(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		a.log.Warn("http shutdown", "err", err)
		_ = srv.Close()
	}
}

// readiness says whether the agent should be sent work, and if not, why.
func (a *agent) readiness() (ready bool, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.draining:
		return false, "draining"
	case !a.started:
		return false, "starting"
	case a.nc == nil || !a.nc.IsConnected():
		return false, "nats not connected"
	case a.paused:
		return false, "paused"
	case a.taskSub == nil || !a.taskSub.IsValid():
		return false, "task subscription inactive"
	case a.conf.Load().k.refuseReady:
		return false, KeyRefuseReady + " is set"
	}
	return true, ""
}

func (a *agent) isPaused() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.paused
}

// tracker counts tasks in flight and lets the drain wait for none. Unlike a
// WaitGroup it may gain tasks while someone waits.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while n is 0
}

func (t *tracker) add() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		close(t.idle)
		t.idle = nil
	}
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	idle := t.idle
	t.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
