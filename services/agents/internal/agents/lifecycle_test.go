package agents

import (
	"slices"
	"strings"
	"testing"

	"github.com/platformportal/portal/platform/errs"
)

// TestNext checks every (state, action) pair against the agreed state machine.
func TestNext(t *testing.T) {
	t.Parallel()
	// want[state][action] is the resulting state; absent means refused.
	want := map[State]map[Action]State{
		Draft:       {Provision: Provisioned, Revoke: Revoked, Fail: Errored},
		Provisioned: {Deploy: Deployed, Revoke: Revoked, Fail: Errored},
		Deployed:    {Start: Running, Revoke: Revoked, Fail: Errored},
		Running:     {Stop: Stopped, Suspend: Suspended, Restart: Running, Revoke: Revoked, Fail: Errored},
		Stopped:     {Start: Running, Deploy: Deployed, Revoke: Revoked, Fail: Errored},
		Suspended:   {Resume: Running, Stop: Stopped, Revoke: Revoked, Fail: Errored},
		Errored:     {Provision: Provisioned, Deploy: Deployed, Restart: Running, Stop: Stopped, Revoke: Revoked, Fail: Errored},
		Revoked:     {},
	}
	for _, from := range States {
		for _, action := range append(slices.Clone(Actions), Fail) {
			t.Run(string(from)+"/"+string(action), func(t *testing.T) {
				t.Parallel()
				got, err := Next(from, action)
				to, ok := want[from][action]
				if ok {
					if err != nil || got != to {
						t.Fatalf("Next(%s, %s) = %q, %v; want %s, nil", from, action, got, err, to)
					}
					return
				}
				if err == nil {
					t.Fatalf("Next(%s, %s) = %s, nil; want a refusal", from, action, got)
				}
				e, isErr := errs.As(err)
				if !isErr || e.Kind != errs.FailedPrecondition || e.Reason != "ILLEGAL_TRANSITION" {
					t.Fatalf("Next(%s, %s) error = %v; want FailedPrecondition ILLEGAL_TRANSITION", from, action, err)
				}
				if e.Metadata["current_state"] != string(from) || !strings.Contains(e.Message, string(from)) {
					t.Errorf("error %q (metadata %v) does not name the current state %s", e.Message, e.Metadata, from)
				}
				var allowed []string
				for _, a := range Actions {
					if _, ok := want[from][a]; ok {
						allowed = append(allowed, string(a))
					}
				}
				if got := e.Metadata["allowed_actions"]; got != strings.Join(allowed, ",") {
					t.Errorf("allowed_actions = %q; want %q", got, strings.Join(allowed, ","))
				}
				for _, a := range allowed {
					if !strings.Contains(e.Message, a) {
						t.Errorf("error %q does not name allowed action %s", e.Message, a)
					}
				}
			})
		}
	}
}

func TestDeletable(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		want := s == Draft || s == Revoked
		if got := Deletable(s); got != want {
			t.Errorf("Deletable(%s) = %v; want %v", s, got, want)
		}
	}
}
