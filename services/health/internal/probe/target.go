package probe

// Target is one agent instance to probe.
type Target struct {
	// ID is the instance id; it keys the target in the Scheduler.
	ID string
	// AgentID is the agent the instance belongs to, carried into events.
	AgentID string
	Spec    Spec
	// AllowExec permits an exec Spec. It is the caller's decision (e.g. a
	// process-driver instance on this host), never the spec author's.
	AllowExec bool
}

// Validate reports the first invalid field of t as a *FieldError.
func (t Target) Validate() error {
	if t.ID == "" {
		return fieldErr("id", "required")
	}
	return t.Spec.Validate(t.AllowExec)
}
