package agentkit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseKnobs(t *testing.T) {
	t.Parallel()
	got, err := parseKnobs(Config{
		"fail_rate":        0.5,
		"latency_ms":       1.5,
		"crash_after":      4.0,
		"refuse_ready":     true,
		"fail_health":      false,
		"leak_mb_per_task": 0.25,
		"startup_delay_ms": 200.0,
		"unrelated":        "kept for the program",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := knobs{
		failRate:      0.5,
		latency:       1500 * time.Microsecond,
		crashAfter:    4,
		refuseReady:   true,
		leakMBPerTask: 0.25,
		startupDelay:  200 * time.Millisecond,
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(knobs{})); diff != "" {
		t.Errorf("parseKnobs (-want +got):\n%s", diff)
	}
	if got, err := parseKnobs(Config{}); err != nil || got != (knobs{}) {
		t.Errorf("parseKnobs(empty) = %+v, %v, want zero knobs", got, err)
	}
}

func TestParseKnobsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key     string
		value   any
		wantErr string
	}{
		{"fail_rate", 1.01, "fail_rate: must be between 0 and 1"},
		{"fail_rate", -0.1, "fail_rate: must not be negative"},
		{"fail_rate", "0.5", "fail_rate: must be a number, got a string"},
		{"latency_ms", -5.0, "latency_ms: must not be negative"},
		{"latency_ms", true, "latency_ms: must be a number, got a boolean"},
		{"latency_ms", 1e300, "latency_ms: 1e+300 is too large"},
		{"startup_delay_ms", []any{1.0}, "startup_delay_ms: must be a number, got an array"},
		{"crash_after", 1.5, "crash_after: must be a whole number"},
		{"crash_after", -1.0, "crash_after: must not be negative"},
		{"crash_after", 1e12, "crash_after: must be a whole number"},
		{"refuse_ready", "true", "refuse_ready: must be true or false, got a string"},
		{"fail_health", 1.0, "fail_health: must be true or false, got a number"},
		{"leak_mb_per_task", -1.0, "leak_mb_per_task: must not be negative"},
		{"leak_mb_per_task", map[string]any{}, "leak_mb_per_task: must be a number, got an object"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+strings.TrimSpace(jsonType(tc.value)), func(t *testing.T) {
			t.Parallel()
			_, err := parseKnobs(Config{tc.key: tc.value})
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("parseKnobs(%s=%v) = %v, want an error starting %q", tc.key, tc.value, err, tc.wantErr)
			}
		})
	}
}

func TestMergeConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		base  Config
		patch map[string]any
		want  Config
	}{
		{"add", Config{"a": 1.0}, map[string]any{"b": 2.0}, Config{"a": 1.0, "b": 2.0}},
		{"replace", Config{"a": 1.0}, map[string]any{"a": "x"}, Config{"a": "x"}},
		{"null removes", Config{"a": 1.0, "b": 2.0}, map[string]any{"a": nil}, Config{"b": 2.0}},
		{"removing an absent key", Config{"a": 1.0}, map[string]any{"z": nil}, Config{"a": 1.0}},
		{"nested objects are replaced whole", Config{"n": map[string]any{"x": 1.0, "y": 2.0}}, map[string]any{"n": map[string]any{"x": 3.0}}, Config{"n": map[string]any{"x": 3.0}}},
		{"nil base", nil, map[string]any{"a": 1.0}, Config{"a": 1.0}},
		{"empty patch", Config{"a": 1.0}, map[string]any{}, Config{"a": 1.0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := cloneConfig(tc.base)
			got := mergeConfig(tc.base, tc.patch)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mergeConfig (-want +got):\n%s", diff)
			}
			// Handlers hold the old snapshot; it must not change under them.
			if diff := cmp.Diff(before, tc.base); diff != "" {
				t.Errorf("mergeConfig changed its base (-before +after):\n%s", diff)
			}
		})
	}
}

func cloneConfig(c Config) Config {
	if c == nil {
		return nil
	}
	out := Config{}
	for k, v := range c {
		out[k] = v
	}
	return out
}

func TestTracker(t *testing.T) {
	t.Parallel()
	var tr tracker
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := tr.wait(ctx); err != nil {
		t.Fatalf("wait with nothing in flight = %v, want nil", err)
	}
	tr.add()
	tr.add()
	if err := tr.wait(ctx); err == nil {
		t.Fatal("wait with two in flight returned before its context ended")
	}
	done := make(chan error, 1)
	go func() { done <- tr.wait(context.Background()) }()
	tr.done()
	tr.add() // gaining a task while someone waits is allowed
	tr.done()
	tr.done()
	if err := <-done; err != nil {
		t.Fatalf("wait = %v, want nil", err)
	}
	if n := tr.count(); n != 0 {
		t.Errorf("count = %d, want 0", n)
	}
}
