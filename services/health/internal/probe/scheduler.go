package probe

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults for Config's zero fields.
const (
	DefaultConcurrency = 64
	DefaultHistorySize = 20
)

// Config configures a Scheduler.
type Config struct {
	// Concurrency bounds the probes in flight (the worker pool size).
	Concurrency int
	// HistorySize is how many recent results are kept per target.
	HistorySize int
	// Prober runs the probes; nil means a Runner owned by the Scheduler.
	Prober Prober
	// OnTransition is called on every state change, from a worker goroutine,
	// in order for any one target. It must not block for long: it holds a
	// worker, and it must not call back into the Scheduler's Stop.
	OnTransition func(Transition)
	// Jitter returns the random delay before a target's first run, to spread
	// targets added together. nil means uniform in [0, period).
	Jitter func(period time.Duration) time.Duration
}

// ErrStopped is returned by Add and Update after Stop.
var ErrStopped = errors.New("probe scheduler stopped")

// Status is a target's current health.
type Status struct {
	Target               Target
	State                State
	ConsecutiveSuccesses int
	ConsecutiveFailures  int
	// Last is the latest result; its Time is zero before the first probe.
	Last Result
	// Since is when State was entered (when the target was added, for unknown).
	Since time.Time
}

// entry is one target's schedule and state, guarded by Scheduler.mu.
type entry struct {
	target  Target
	gen     uint64 // bumped by Update and Remove so an in-flight result from the old spec is dropped
	next    time.Time
	index   int // in the heap, -1 when not in it
	running bool
	cancel  context.CancelFunc // of the in-flight probe
	count   counter
	since   time.Time
	last    Result
	history *ring
}

type job struct {
	e    *entry
	gen  uint64
	spec Spec
	// ctx and cancel are the probe's own, so Remove and Update can abort it.
	ctx    context.Context
	cancel context.CancelFunc
}

// Scheduler probes targets at their periods with bounded concurrency and
// tracks each target's health.
type Scheduler struct {
	cfg       Config
	ownRunner *Runner

	ctx    context.Context // cancelled by Stop; parent of every probe
	cancel context.CancelFunc
	jobs   chan job
	wake   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	targets map[string]*entry
	sched   schedule
	stopped bool
	genSeq  uint64
}

// NewScheduler starts a Scheduler with no targets. Stop it to release its
// goroutines.
func NewScheduler(cfg Config) (*Scheduler, error) {
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("new probe scheduler: concurrency must not be negative, got %d", cfg.Concurrency)
	}
	if cfg.HistorySize < 0 {
		return nil, fmt.Errorf("new probe scheduler: history size must not be negative, got %d", cfg.HistorySize)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.HistorySize == 0 {
		cfg.HistorySize = DefaultHistorySize
	}
	s := &Scheduler{cfg: cfg, targets: map[string]*entry{}, wake: make(chan struct{}, 1)}
	if s.cfg.Prober == nil {
		s.ownRunner = NewRunner()
		s.cfg.Prober = s.ownRunner
	}
	if s.cfg.Jitter == nil {
		s.cfg.Jitter = func(p time.Duration) time.Duration { return rand.N(p) }
	}
	// The context outlives any one call: it is the scheduler's lifetime, the
	// parent that Stop cancels to abort every in-flight probe.
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.jobs = make(chan job)
	s.wg.Add(1 + cfg.Concurrency)
	go s.dispatch()
	for range cfg.Concurrency {
		go s.work()
	}
	return s, nil
}

// Add starts probing t. Its first run is after the initial delay plus jitter.
func (s *Scheduler) Add(t Target) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("add target %s: %w", t.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("add target %s: %w", t.ID, ErrStopped)
	}
	if _, ok := s.targets[t.ID]; ok {
		return fmt.Errorf("add target %s: already added", t.ID)
	}
	now := time.Now()
	s.genSeq++
	e := &entry{
		target:  t,
		gen:     s.genSeq,
		next:    now.Add(t.Spec.InitialDelay + s.cfg.Jitter(t.Spec.Period)),
		since:   now,
		history: newRing(s.cfg.HistorySize),
	}
	s.targets[t.ID] = e
	heap.Push(&s.sched, e)
	s.poke()
	return nil
}

// Update replaces a target's spec. The state and history are kept (it is the
// same instance), but the consecutive counts restart, as a changed probe's
// earlier results say nothing about the new one; an in-flight probe of the
// old spec is cancelled and its result dropped.
func (s *Scheduler) Update(t Target) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("update target %s: %w", t.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("update target %s: %w", t.ID, ErrStopped)
	}
	e, ok := s.targets[t.ID]
	if !ok {
		return fmt.Errorf("update target %s: not found", t.ID)
	}
	s.abortLocked(e)
	e.target = t
	e.count.successes, e.count.failures = 0, 0
	// No initial delay: the instance is already up.
	e.next = time.Now().Add(s.cfg.Jitter(t.Spec.Period))
	heap.Fix(&s.sched, e.index)
	s.poke()
	return nil
}

// Remove stops probing the target and forgets it; it reports whether the
// target was there. An in-flight probe is cancelled and its result dropped.
func (s *Scheduler) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.targets[id]
	if !ok {
		return false
	}
	s.abortLocked(e)
	delete(s.targets, id)
	heap.Remove(&s.sched, e.index)
	s.poke()
	return true
}

func (s *Scheduler) abortLocked(e *entry) {
	s.genSeq++
	e.gen = s.genSeq
	if e.cancel != nil {
		e.cancel()
		e.cancel = nil
	}
	e.running = false
}

// Status returns the target's current health.
func (s *Scheduler) Status(id string) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.targets[id]
	if !ok {
		return Status{}, false
	}
	return Status{
		Target:               e.target,
		State:                e.count.state,
		ConsecutiveSuccesses: e.count.successes,
		ConsecutiveFailures:  e.count.failures,
		Last:                 e.last,
		Since:                e.since,
	}, true
}

// History returns the target's recent results, oldest first, or nil if the
// target is unknown.
func (s *Scheduler) History(id string) []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.targets[id]
	if !ok {
		return nil
	}
	return e.history.list()
}

// Len returns the number of targets.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.targets)
}

// Stop cancels in-flight probes and waits for the scheduler's goroutines to
// exit, or for ctx to end. Targets stay readable through Status and History.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("stop probe scheduler: %w", ctx.Err())
	}
	if s.ownRunner != nil {
		s.ownRunner.Close()
	}
	return nil
}

// poke wakes the dispatcher to look at the heap again; a pending wake is
// enough, so it never blocks.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dispatch pops due targets off the heap and hands them to the workers. When
// every worker is busy it waits, so overload delays probes instead of
// piling up goroutines.
func (s *Scheduler) dispatch() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		j, wait := s.nextJob(time.Now())
		if j != nil {
			select {
			case s.jobs <- *j:
			case <-s.ctx.Done():
				j.cancel()
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
	}
}

// nextJob returns the next due job, or how long to wait for one.
func (s *Scheduler) nextJob(now time.Time) (*job, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		at, ok := s.sched.peek()
		if !ok {
			return nil, time.Hour
		}
		if at.After(now) {
			return nil, at.Sub(now)
		}
		e := s.sched[0]
		// Fixed rate, like a ticker: the next run is a period after this
		// one was due, unless we fell behind by a whole period, in which
		// case missed runs are skipped rather than bunched.
		e.next = e.next.Add(e.target.Spec.Period)
		if e.next.Before(now) {
			e.next = now.Add(e.target.Spec.Period)
		}
		heap.Fix(&s.sched, 0)
		if e.running {
			continue // still probing (only when workers are starved): skip this tick
		}
		e.running = true
		ctx, cancel := context.WithCancel(s.ctx)
		e.cancel = cancel
		return &job{e: e, gen: e.gen, spec: e.target.Spec, ctx: ctx, cancel: cancel}, 0
	}
}

func (s *Scheduler) work() {
	defer s.wg.Done()
	for {
		select {
		case j := <-s.jobs:
			res := s.cfg.Prober.Probe(j.ctx, j.spec)
			s.record(j, res)
			j.cancel()
		case <-s.ctx.Done():
			return
		}
	}
}

// record applies a result to its target and emits a transition if the state
// changed. The callback runs before running is cleared, so the target's next
// probe, and its next callback, cannot overtake this one.
func (s *Scheduler) record(j job, res Result) {
	s.mu.Lock()
	e := j.e
	if e.gen != j.gen || s.ctx.Err() != nil {
		// Updated, removed or stopped while probing: the result is stale.
		s.mu.Unlock()
		return
	}
	spec := e.target.Spec
	from, to := e.count.observe(res.OK, spec.SuccessThreshold, spec.FailureThreshold)
	e.last = res
	e.history.add(res)
	var tr *Transition
	if from != to {
		now := time.Now()
		e.since = now
		tr = &Transition{TargetID: e.target.ID, AgentID: e.target.AgentID, From: from, To: to, Result: res, Time: now}
	}
	s.mu.Unlock()

	if tr != nil && s.cfg.OnTransition != nil {
		s.cfg.OnTransition(*tr)
	}

	s.mu.Lock()
	if e.gen == j.gen {
		e.running = false
		e.cancel = nil
	}
	s.mu.Unlock()
}
