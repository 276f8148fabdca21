// Package kinds implements the six agent templates the portal offers, as
// agentkit handlers: memory, orchestration, api, data, monitoring and blank.
package kinds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/platformportal/portal/agentkit"
)

// Names lists the kinds, in the order the portal shows its templates.
var Names = []string{"memory", "orchestration", "api", "data", "monitoring", "blank"}

// Kind is what an agent program needs from one template.
type Kind struct {
	Handler agentkit.Handler
	// ValidateConfig checks the kind's own config keys; nil when it has none.
	ValidateConfig func(agentkit.Config) error
}

// New returns the kind called name.
func New(name string) (Kind, error) {
	switch name {
	case "memory":
		m := newMemory(nil)
		return Kind{Handler: newRouter(name, []route{
			{"remember", m.remember},
			{"recall", m.recall},
			{"forget", m.forget},
		})}, nil
	case "orchestration":
		return Kind{Handler: newRouter(name, []route{{"run", runSteps}})}, nil
	case "api":
		return Kind{
			Handler:        newRouter(name, []route{{"call", callAPI}}),
			ValidateConfig: validateAPIConfig,
		}, nil
	case "data":
		return Kind{Handler: newRouter(name, []route{{"transform", transform}})}, nil
	case "monitoring":
		return Kind{Handler: newRouter(name, []route{{"check", newMonitor().check}})}, nil
	case "blank":
		return Kind{Handler: newRouter(name, []route{{"echo", echo}})}, nil
	}
	return Kind{}, fmt.Errorf("unknown kind %q: want one of %s", name, strings.Join(Names, ", "))
}

// taskFunc does one task type.
type taskFunc func(ctx context.Context, input json.RawMessage, cfg agentkit.Config) (any, error)

type route struct {
	typ string
	fn  taskFunc
}

// newRouter returns a Handler that sends each task to its type's function.
func newRouter(kind string, routes []route) agentkit.Handler {
	byType := make(map[string]taskFunc, len(routes))
	types := make([]string, 0, len(routes))
	for _, r := range routes {
		byType[r.typ] = r.fn
		types = append(types, r.typ)
	}
	supported := strings.Join(types, ", ")
	return func(ctx context.Context, t agentkit.Task, cfg agentkit.Config) (any, error) {
		fn, ok := byType[t.Type]
		if !ok {
			return nil, fmt.Errorf("unknown task type %q for a %s agent: supported types are %s", t.Type, kind, supported)
		}
		return fn(ctx, t.Input, cfg)
	}
}

// decodeInput decodes a task's input strictly, so a misspelt field is an
// error rather than a silently missing value. No input decodes as {}.
func decodeInput(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid input: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid input: data after the JSON value")
	}
	return nil
}

// echo is the blank kind's only task: it returns its input.
func echo(_ context.Context, input json.RawMessage, _ agentkit.Config) (any, error) {
	if input == nil {
		return nil, nil
	}
	return input, nil
}
