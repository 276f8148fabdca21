package kinds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/platformportal/portal/agentkit"
)

const maxSteps = 1000

type stepInput struct {
	Name    string  `json:"name"`
	SleepMs float64 `json:"sleep_ms"`
	Fail    bool    `json:"fail"`
}

type runInput struct {
	Steps []stepInput `json:"steps"`
}

type stepOutput struct {
	Name       string  `json:"name"`
	OK         bool    `json:"ok"`
	DurationMs float64 `json:"durationMs"`
}

type runOutput struct {
	Steps []stepOutput `json:"steps"`
}

// runSteps runs the steps in order and stops at the first that fails. The
// output lists the steps that ran, the failed one last, also on failure.
func runSteps(ctx context.Context, raw json.RawMessage, _ agentkit.Config) (any, error) {
	var in runInput
	if err := decodeInput(raw, &in); err != nil {
		return nil, err
	}
	if len(in.Steps) == 0 {
		return nil, errors.New("steps is required")
	}
	if len(in.Steps) > maxSteps {
		return nil, fmt.Errorf("steps: at most %d, got %d", maxSteps, len(in.Steps))
	}
	// Check every step before running any, so a bad plan does no work.
	for i, s := range in.Steps {
		if s.Name == "" {
			return nil, fmt.Errorf("steps[%d]: name is required", i)
		}
		if s.SleepMs < 0 {
			return nil, fmt.Errorf("steps[%d] %q: sleep_ms must not be negative", i, s.Name)
		}
	}

	out := runOutput{Steps: make([]stepOutput, 0, len(in.Steps))}
	for _, s := range in.Steps {
		start := time.Now()
		err := sleep(ctx, time.Duration(s.SleepMs*float64(time.Millisecond)))
		if err == nil && s.Fail {
			err = errors.New("failed")
		}
		out.Steps = append(out.Steps, stepOutput{
			Name:       s.Name,
			OK:         err == nil,
			DurationMs: float64(time.Since(start).Microseconds()) / 1000,
		})
		if err != nil {
			return out, fmt.Errorf("step %q: %w", s.Name, err)
		}
	}
	return out, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
