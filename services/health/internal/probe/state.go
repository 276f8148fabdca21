package probe

import (
	"strconv"
	"time"
)

// State is a target's health.
type State int

// The health states.
const (
	// StateUnknown: no decisive result yet (initial delay, or fewer
	// consecutive results than either threshold).
	StateUnknown State = iota
	// StateHealthy: successThreshold consecutive successes.
	StateHealthy
	// StateDegraded: failing since it was last healthy, but fewer than
	// failureThreshold consecutive failures so far.
	StateDegraded
	// StateUnhealthy: failureThreshold consecutive failures.
	StateUnhealthy
)

func (s State) String() string {
	switch s {
	case StateUnknown:
		return "unknown"
	case StateHealthy:
		return "healthy"
	case StateDegraded:
		return "degraded"
	case StateUnhealthy:
		return "unhealthy"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Transition is emitted on every change of a target's State.
type Transition struct {
	TargetID string
	AgentID  string
	From, To State
	// Result is the probe result that caused the change.
	Result Result
	Time   time.Time
}

// counter applies Kubernetes' threshold rule: a result changes the state
// only once the run of identical consecutive results reaches its threshold
// (pkg/kubelet/prober/worker.go: resultRun against Success/FailureThreshold).
// The one addition is degraded: the first failures after healthy are shown
// rather than hidden behind the unchanged state.
type counter struct {
	state     State
	successes int // consecutive, reset by a failure
	failures  int // consecutive, reset by a success
}

// observe records one result and returns the state before and after it.
func (c *counter) observe(ok bool, successThreshold, failureThreshold int) (from, to State) {
	from = c.state
	if ok {
		c.successes++
		c.failures = 0
		if c.successes >= successThreshold {
			c.state = StateHealthy
		}
		return from, c.state
	}
	c.failures++
	c.successes = 0
	switch {
	case c.failures >= failureThreshold:
		c.state = StateUnhealthy
	case c.state == StateHealthy:
		c.state = StateDegraded
	}
	return from, c.state
}
