package agentkit

import (
	"fmt"
	"maps"
	"math"
	"time"
)

// Config keys the SDK itself acts on. They let the platform rehearse
// failures against any agent program without the program's cooperation.
const (
	KeyFailRate      = "fail_rate"
	KeyLatencyMs     = "latency_ms"
	KeyCrashAfter    = "crash_after"
	KeyRefuseReady   = "refuse_ready"
	KeyFailHealth    = "fail_health"
	KeyLeakMBPerTask = "leak_mb_per_task"
	KeyStartupDelay  = "startup_delay_ms"
)

// knobs are the misbehaviour settings parsed from a Config. The zero value
// misbehaves in no way.
type knobs struct {
	failRate      float64
	latency       time.Duration
	crashAfter    int64 // 0: never
	refuseReady   bool
	failHealth    bool
	leakMBPerTask float64
	startupDelay  time.Duration
}

func parseKnobs(cfg Config) (knobs, error) {
	var k knobs
	var err error
	if k.failRate, err = number(cfg, KeyFailRate); err != nil {
		return knobs{}, err
	}
	if k.failRate > 1 {
		return knobs{}, fmt.Errorf("%s: must be between 0 and 1, got %v", KeyFailRate, k.failRate)
	}
	if k.latency, err = millis(cfg, KeyLatencyMs); err != nil {
		return knobs{}, err
	}
	if k.startupDelay, err = millis(cfg, KeyStartupDelay); err != nil {
		return knobs{}, err
	}
	if k.leakMBPerTask, err = number(cfg, KeyLeakMBPerTask); err != nil {
		return knobs{}, err
	}
	crash, err := number(cfg, KeyCrashAfter)
	if err != nil {
		return knobs{}, err
	}
	if crash != math.Trunc(crash) || crash > math.MaxInt32 {
		return knobs{}, fmt.Errorf("%s: must be a whole number of tasks, got %v", KeyCrashAfter, crash)
	}
	k.crashAfter = int64(crash)
	if k.refuseReady, err = boolean(cfg, KeyRefuseReady); err != nil {
		return knobs{}, err
	}
	if k.failHealth, err = boolean(cfg, KeyFailHealth); err != nil {
		return knobs{}, err
	}
	return k, nil
}

// number reads a non-negative number; an absent key is 0.
func number(cfg Config, key string) (float64, error) {
	v, ok := cfg[key]
	if !ok {
		return 0, nil
	}
	f, ok := v.(float64)
	if !ok {
		return 0, fmt.Errorf("%s: must be a number, got %s", key, jsonType(v))
	}
	if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s: must not be negative, got %v", key, f)
	}
	return f, nil
}

// millis reads a non-negative number of milliseconds.
func millis(cfg Config, key string) (time.Duration, error) {
	f, err := number(cfg, key)
	if err != nil {
		return 0, err
	}
	// Beyond this a duration overflows; no real knob wants 290 years.
	if f > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, fmt.Errorf("%s: %v is too large", key, f)
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

func boolean(cfg Config, key string) (bool, error) {
	v, ok := cfg[key]
	if !ok {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: must be true or false, got %s", key, jsonType(v))
	}
	return b, nil
}

// jsonType names the JSON type of a value decoded by encoding/json.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// validateConfig checks the SDK's knobs, then the program's own keys.
func validateConfig(cfg Config, validate func(Config) error) error {
	if _, err := parseKnobs(cfg); err != nil {
		return err
	}
	if validate != nil {
		return validate(cfg)
	}
	return nil
}

// mergeConfig returns a new Config: base with patch's keys set, and the keys
// patch sets to null removed. Nested objects are replaced, not merged, so a
// patch always states a key's whole new value.
func mergeConfig(base Config, patch map[string]any) Config {
	out := maps.Clone(base)
	if out == nil {
		out = Config{}
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// leak keeps mb MiB allocated forever (for the agent's lifetime) and writes
// to every page so the memory is resident, not just reserved.
func (a *agent) leak(mb float64) {
	n := int(mb * (1 << 20))
	if n <= 0 {
		return
	}
	b := make([]byte, n)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	a.leakMu.Lock()
	a.leaked = append(a.leaked, b)
	a.leakMu.Unlock()
}
