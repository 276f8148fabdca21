package agentkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// settings is the agent's environment, read and validated before anything
// starts.
type settings struct {
	AgentID string
	Name    string
	Kind    string
	// RequestedVersion is AGENT_VERSION: what the platform asked for, shown
	// beside Version so a mismatch is visible.
	RequestedVersion string
	Instance         string
	Addr             string
	NATSURL          string
	Config           Config
	DrainTimeout     time.Duration
	MaxInFlight      int
}

const (
	defaultAddr         = "127.0.0.1:8080"
	defaultInstance     = "0"
	defaultDrainTimeout = 10 * time.Second
	defaultMaxInFlight  = 16
)

func loadSettings(getenv func(string) string, validate func(Config) error) (settings, error) {
	s := settings{
		AgentID:          getenv("AGENT_ID"),
		Name:             getenv("AGENT_NAME"),
		Kind:             getenv("AGENT_KIND"),
		RequestedVersion: getenv("AGENT_VERSION"),
		Instance:         getenv("AGENT_INSTANCE"),
		Addr:             getenv("AGENT_ADDR"),
		NATSURL:          getenv("NATS_URL"),
		DrainTimeout:     defaultDrainTimeout,
		MaxInFlight:      defaultMaxInFlight,
	}
	for _, req := range []struct{ name, value string }{
		{"AGENT_ID", s.AgentID},
		{"AGENT_NAME", s.Name},
		{"AGENT_KIND", s.Kind},
		{"NATS_URL", s.NATSURL},
	} {
		if req.value == "" {
			return settings{}, fmt.Errorf("%s is required", req.name)
		}
	}
	// The id goes into NATS subjects, where a dot or a wildcard would
	// subscribe to someone else's tasks; a UUID cannot contain either.
	if !isUUID(s.AgentID) {
		return settings{}, fmt.Errorf("AGENT_ID: %q is not a UUID", s.AgentID)
	}
	if s.Instance == "" {
		s.Instance = defaultInstance
	}
	if !isInstanceName(s.Instance) {
		return settings{}, fmt.Errorf("AGENT_INSTANCE: %q must be 1 to 64 letters, digits, '.', '_' or '-'", s.Instance)
	}
	if s.Addr == "" {
		s.Addr = defaultAddr
	}
	if v := getenv("AGENT_DRAIN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return settings{}, fmt.Errorf("AGENT_DRAIN_TIMEOUT: %w", err)
		}
		if d < 0 {
			return settings{}, fmt.Errorf("AGENT_DRAIN_TIMEOUT: %s is negative", v)
		}
		s.DrainTimeout = d
	}
	if v := getenv("AGENT_MAX_IN_FLIGHT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return settings{}, fmt.Errorf("AGENT_MAX_IN_FLIGHT: %q is not a positive integer", v)
		}
		s.MaxInFlight = n
	}
	cfg, err := parseConfig(getenv("AGENT_CONFIG"), validate)
	if err != nil {
		return settings{}, fmt.Errorf("AGENT_CONFIG: %w", err)
	}
	s.Config = cfg
	return s, nil
}

// parseConfig reads AGENT_CONFIG: empty means no config, anything else must
// be a JSON object whose knobs (and the program's own keys) are valid.
func parseConfig(raw string, validate func(Config) error) (Config, error) {
	cfg := Config{}
	if raw == "" {
		return cfg, nil
	}
	trimmed := bytes.TrimSpace([]byte(raw))
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("must be a JSON object")
	}
	if err := json.Unmarshal(trimmed, &cfg); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if err := validateConfig(cfg, validate); err != nil {
		return nil, err
	}
	return cfg, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func isInstanceName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
