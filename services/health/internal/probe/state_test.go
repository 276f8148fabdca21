package probe

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCounterObserve feeds result sequences ("s" success, "f" failure) and
// checks the state after each one, as Kubernetes counts consecutive runs.
func TestCounterObserve(t *testing.T) {
	t.Parallel()
	U, H, D, X := StateUnknown, StateHealthy, StateDegraded, StateUnhealthy
	tests := []struct {
		name          string
		success, fail int
		results       string
		want          []State
	}{
		{"one success is healthy at threshold 1", 1, 3, "s", []State{H}},
		{"success threshold 3 needs three in a row", 3, 3, "sss", []State{U, U, H}},
		{"a failure resets the success run", 3, 3, "ssfsss", []State{U, U, U, U, U, H}},
		{"failures from unknown stay unknown below threshold", 1, 3, "fff", []State{U, U, X}},
		{"healthy then failures: degraded then unhealthy at threshold", 1, 3, "sfff", []State{H, D, D, X}},
		{"failure threshold 1 skips degraded", 1, 1, "sf", []State{H, X}},
		{"degraded recovers on success threshold", 2, 3, "ssfss", []State{U, H, D, D, H}},
		{"a success resets the failure run", 1, 3, "sffsff", []State{H, D, D, H, D, D}},
		{"degraded with interleaved success below threshold never goes unhealthy", 2, 3, "ssffsff", []State{U, H, D, D, D, D, D}},
		{"unhealthy needs success threshold to recover", 3, 2, "ffssfsss", []State{U, X, X, X, X, X, X, H}},
		{"unhealthy stays unhealthy on more failures", 1, 2, "ffff", []State{U, X, X, X}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c counter
			var got []State
			for _, r := range tt.results {
				_, to := c.observe(r == 's', tt.success, tt.fail)
				got = append(got, to)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("states after %q (success %d, failure %d) = %v, want %v", tt.results, tt.success, tt.fail, got, tt.want)
			}
		})
	}
}

func TestRing(t *testing.T) {
	t.Parallel()
	at := func(i int) Result { return Result{Time: time.Unix(int64(i), 0)} }
	secs := func(rs []Result) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.Time.Unix())
		}
		return out
	}
	r := newRing(3)
	if got := r.list(); len(got) != 0 {
		t.Errorf("empty ring list() = %v, want none", got)
	}
	r.add(at(1))
	r.add(at(2))
	if got := secs(r.list()); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("list() = %v, want [1 2]", got)
	}
	for i := 3; i <= 7; i++ {
		r.add(at(i))
	}
	if got := secs(r.list()); !slices.Equal(got, []int64{5, 6, 7}) {
		t.Errorf("list() after 7 adds = %v, want [5 6 7]", got)
	}
}

func TestStateString(t *testing.T) {
	t.Parallel()
	got := strings.Join([]string{StateUnknown.String(), StateHealthy.String(), StateDegraded.String(), StateUnhealthy.String(), State(9).String()}, ",")
	if want := "unknown,healthy,degraded,unhealthy,State(9)"; got != want {
		t.Errorf("State strings = %q, want %q", got, want)
	}
}
