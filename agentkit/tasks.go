package agentkit

import (
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
)

// errInjected is the error of the tasks fail_rate makes fail.
var errInjected = errors.New("injected failure")

// onTask is the task subscription's callback. NATS calls it for one message
// at a time, so it hands each task to a goroutine; sem makes it block, and
// the messages wait in the subscription, once MaxInFlight tasks run.
func (a *agent) onTask(msg *nats.Msg) {
	// Counted before waiting for a slot: the drain must not see zero tasks
	// while this one waits.
	a.inflight.add()
	a.m.inFlight.Inc()
	select {
	case a.sem <- struct{}{}:
		go func() {
			defer func() {
				<-a.sem
				a.inflight.done()
			}()
			a.handle(msg)
		}()
	case <-a.workCtx.Done():
		defer a.inflight.done()
		t, _ := decodeTask(msg.Data) // for its id, so the sender can match the answer
		res := a.newResult(t, time.Now())
		res.Error = "agent is shutting down"
		a.m.finished(false, 0)
		a.publish(msg.Reply, res)
	}
}

// handle turns one message into one published result.
func (a *agent) handle(msg *nats.Msg) {
	start := time.Now()
	t, err := decodeTask(msg.Data)
	if err != nil {
		res := a.newResult(t, start)
		res.Error = err.Error()
		a.m.finished(false, time.Since(start))
		a.publish(msg.Reply, res)
		return
	}

	out, err := a.runTask(t)
	res := a.newResult(t, start)
	if out != nil {
		raw, merr := json.Marshal(out)
		if merr != nil && err == nil {
			err = fmt.Errorf("marshal output: %w", merr)
		}
		if merr == nil {
			res.Output = raw
		}
	}
	if err != nil {
		res.Error = err.Error()
	} else {
		res.OK = true
		if res.Output == nil {
			res.Output = json.RawMessage("null")
		}
	}
	res.DurationMs = ms(time.Since(start))
	a.m.finished(res.OK, time.Since(start))
	a.publish(msg.Reply, res)
	a.maybeCrash()
}

// decodeTask parses a task message. The returned Task always has an ID,
// even with an error, so the error result can be matched to something.
func decodeTask(data []byte) (Task, error) {
	var t Task
	err := json.Unmarshal(data, &t)
	if t.ID == "" {
		t.ID = newID()
	}
	if err != nil {
		return t, fmt.Errorf("malformed task: %w", err)
	}
	if t.Type == "" {
		return t, errors.New("malformed task: type is required")
	}
	return t, nil
}

// runTask applies the knobs, then the handler.
func (a *agent) runTask(t Task) (out any, err error) {
	snap := a.conf.Load()
	k := snap.k
	if k.leakMBPerTask > 0 {
		a.leak(k.leakMBPerTask)
	}
	if k.latency > 0 {
		timer := time.NewTimer(k.latency)
		defer timer.Stop()
		select {
		case <-a.workCtx.Done():
			return nil, a.workCtx.Err()
		case <-timer.C:
		}
	}
	if k.failRate > 0 && rand.Float64() < k.failRate {
		return nil, errInjected
	}
	defer func() {
		// One bad task must not take the other tasks in flight down with it.
		if p := recover(); p != nil {
			a.log.Error("task handler panicked", "task_id", t.ID, "type", t.Type, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return a.opts.Handler(a.workCtx, t, snap.cfg)
}

func (a *agent) newResult(t Task, start time.Time) Result {
	return Result{
		TaskID:     t.ID,
		Type:       t.Type,
		AgentID:    a.s.AgentID,
		Instance:   a.s.Instance,
		DurationMs: ms(time.Since(start)),
	}
}

// publish sends the result to the requester, if any, and to the results
// subject for everyone else watching the agent.
func (a *agent) publish(reply string, res Result) {
	data, err := json.Marshal(res)
	if err != nil {
		// Output is raw JSON already, so this cannot happen; fail loudly.
		a.log.Error("marshal result", "task_id", res.TaskID, "err", err)
		return
	}
	if reply != "" {
		if err := a.nc.Publish(reply, data); err != nil {
			a.log.Warn("publish reply", "task_id", res.TaskID, "err", err)
		}
	}
	if err := a.nc.Publish(ResultsSubject(a.s.AgentID), data); err != nil {
		a.log.Warn("publish result", "task_id", res.TaskID, "err", err)
	}
}

// maybeCrash exits the process once crash_after tasks have completed. The
// count includes the tasks completed before the knob was set.
func (a *agent) maybeCrash() {
	n := a.completed.Add(1)
	limit := a.conf.Load().k.crashAfter
	if limit <= 0 || n < limit || !a.crashed.CompareAndSwap(false, true) {
		return
	}
	a.log.Error("crashing as configured", "completed", n, KeyCrashAfter, limit)
	// The N-th result is part of the N-th task completing; let it leave.
	_ = a.nc.FlushTimeout(time.Second)
	a.opts.Exit(3)
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// newID returns a random UUID (version 4).
func newID() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
