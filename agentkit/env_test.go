package agentkit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testID = "6f1c2a7e-3b4d-4c5e-8f90-a1b2c3d4e5f6"

func env(overrides map[string]string) func(string) string {
	m := map[string]string{
		"AGENT_ID":   testID,
		"AGENT_NAME": "mem-1",
		"AGENT_KIND": "memory",
		"NATS_URL":   "nats://127.0.0.1:4222",
	}
	for k, v := range overrides {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestLoadSettingsDefaults(t *testing.T) {
	t.Parallel()
	got, err := loadSettings(env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		AgentID:      testID,
		Name:         "mem-1",
		Kind:         "memory",
		Instance:     "0",
		Addr:         "127.0.0.1:8080",
		NATSURL:      "nats://127.0.0.1:4222",
		Config:       Config{},
		DrainTimeout: 10 * time.Second,
		MaxInFlight:  16,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loadSettings (-want +got):\n%s", diff)
	}
}

func TestLoadSettingsAll(t *testing.T) {
	t.Parallel()
	got, err := loadSettings(env(map[string]string{
		"AGENT_VERSION":       "1.2.3",
		"AGENT_INSTANCE":      "replica-2",
		"AGENT_ADDR":          ":0",
		"AGENT_CONFIG":        ` {"fail_rate":0.25,"api_latency_ms":5,"nested":{"a":[1]}} `,
		"AGENT_DRAIN_TIMEOUT": "1m30s",
		"AGENT_MAX_IN_FLIGHT": "4",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		AgentID:          testID,
		Name:             "mem-1",
		Kind:             "memory",
		RequestedVersion: "1.2.3",
		Instance:         "replica-2",
		Addr:             ":0",
		NATSURL:          "nats://127.0.0.1:4222",
		Config:           Config{"fail_rate": 0.25, "api_latency_ms": 5.0, "nested": map[string]any{"a": []any{1.0}}},
		DrainTimeout:     90 * time.Second,
		MaxInFlight:      4,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loadSettings (-want +got):\n%s", diff)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // the error starts with it
	}{
		{"missing AGENT_ID", map[string]string{"AGENT_ID": ""}, "AGENT_ID is required"},
		{"missing AGENT_NAME", map[string]string{"AGENT_NAME": ""}, "AGENT_NAME is required"},
		{"missing AGENT_KIND", map[string]string{"AGENT_KIND": ""}, "AGENT_KIND is required"},
		{"missing NATS_URL", map[string]string{"NATS_URL": ""}, "NATS_URL is required"},
		{"AGENT_ID not a UUID", map[string]string{"AGENT_ID": "agent.*"}, "AGENT_ID: "},
		{"AGENT_ID a UUID too long", map[string]string{"AGENT_ID": testID + "0"}, "AGENT_ID: "},
		{"AGENT_ID with a non-hex digit", map[string]string{"AGENT_ID": "6f1c2a7e-3b4d-4c5e-8f90-a1b2c3d4e5fg"}, "AGENT_ID: "},
		{"AGENT_INSTANCE with a space", map[string]string{"AGENT_INSTANCE": "a b"}, "AGENT_INSTANCE: "},
		{"AGENT_DRAIN_TIMEOUT not a duration", map[string]string{"AGENT_DRAIN_TIMEOUT": "10"}, "AGENT_DRAIN_TIMEOUT: "},
		{"AGENT_DRAIN_TIMEOUT negative", map[string]string{"AGENT_DRAIN_TIMEOUT": "-1s"}, "AGENT_DRAIN_TIMEOUT: "},
		{"AGENT_MAX_IN_FLIGHT zero", map[string]string{"AGENT_MAX_IN_FLIGHT": "0"}, "AGENT_MAX_IN_FLIGHT: "},
		{"AGENT_CONFIG invalid JSON", map[string]string{"AGENT_CONFIG": `{"a":`}, "AGENT_CONFIG: invalid JSON"},
		{"AGENT_CONFIG an array", map[string]string{"AGENT_CONFIG": `[1]`}, "AGENT_CONFIG: must be a JSON object"},
		{"AGENT_CONFIG null", map[string]string{"AGENT_CONFIG": `null`}, "AGENT_CONFIG: must be a JSON object"},
		{"AGENT_CONFIG trailing data", map[string]string{"AGENT_CONFIG": `{} x`}, "AGENT_CONFIG: invalid JSON"},
		{"AGENT_CONFIG bad knob", map[string]string{"AGENT_CONFIG": `{"latency_ms":"slow"}`}, "AGENT_CONFIG: latency_ms: "},
		{"AGENT_CONFIG refused by the program", map[string]string{"AGENT_CONFIG": `{"color":1}`}, "AGENT_CONFIG: color: "},
	}
	validate := func(cfg Config) error {
		if _, ok := cfg["color"].(float64); ok {
			return errors.New("color: must be a string")
		}
		return nil
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadSettings(env(tc.env), validate)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("loadSettings() = %v, want an error starting %q", err, tc.wantErr)
			}
		})
	}
}
