package agents

import (
	"strings"

	"github.com/platformportal/portal/platform/errs"
)

// lifecycle is the state machine: for each state, the actions it allows and
// where they lead. Anything not listed is refused.
//
//	DRAFT -> PROVISIONED -> DEPLOYED -> RUNNING <-> STOPPED
//	                                    RUNNING <-> SUSPENDED
//	any (but REVOKED) -> ERRORED on failure;  any (but REVOKED) -> REVOKED
//
// Beyond the plan's arrows: a stopped agent can be redeployed (a new version),
// a suspended one stopped, and an errored one recovered by re-provisioning,
// redeploying, restarting or stopping it.
var lifecycle = map[State]map[Action]State{
	Draft:       {Provision: Provisioned, Revoke: Revoked},
	Provisioned: {Deploy: Deployed, Revoke: Revoked},
	Deployed:    {Start: Running, Revoke: Revoked},
	Running:     {Stop: Stopped, Suspend: Suspended, Restart: Running, Revoke: Revoked},
	Stopped:     {Start: Running, Deploy: Deployed, Revoke: Revoked},
	Suspended:   {Resume: Running, Stop: Stopped, Revoke: Revoked},
	Errored:     {Provision: Provisioned, Deploy: Deployed, Restart: Running, Stop: Stopped, Revoke: Revoked},
	Revoked:     {},
}

// Next returns the state action leads to from from, or a FailedPrecondition
// error naming the current state and the actions it allows.
func Next(from State, action Action) (State, error) {
	if action == Fail {
		if from == Revoked {
			return "", illegal(from, action)
		}
		return Errored, nil
	}
	to, ok := lifecycle[from][action]
	if !ok {
		return "", illegal(from, action)
	}
	return to, nil
}

// Allowed lists the operator actions from allows, in the order of Actions.
func Allowed(from State) []Action {
	var out []Action
	for _, a := range Actions {
		if _, ok := lifecycle[from][a]; ok {
			out = append(out, a)
		}
	}
	return out
}

// Deletable reports whether an agent in s may be deleted: only one that holds
// nothing (DRAFT) or has been torn down (REVOKED).
func Deletable(s State) bool { return s == Draft || s == Revoked }

func illegal(from State, action Action) error {
	allowed := Allowed(from)
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	list := "none: the state is final"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	return errs.E(errs.FailedPrecondition, "ILLEGAL_TRANSITION",
		"cannot %s an agent that is %s; allowed actions: %s", action, from, list).
		With("current_state", string(from)).
		With("action", string(action)).
		With("allowed_actions", strings.Join(names, ","))
}

// IsFinal reports whether no action leaves s.
func IsFinal(s State) bool { return len(lifecycle[s]) == 0 }
