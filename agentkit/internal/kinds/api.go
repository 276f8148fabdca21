package kinds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/platformportal/portal/agentkit"
)

// keyAPILatency is the api kind's own config key: the simulated latency of
// each call, in milliseconds.
const (
	keyAPILatency     = "api_latency_ms"
	defaultAPILatency = 5 * time.Millisecond
)

type callInput struct {
	Endpoint string          `json:"endpoint"`
	Payload  json.RawMessage `json:"payload"`
}

type callBody struct {
	Endpoint string          `json:"endpoint"`
	Echo     json.RawMessage `json:"echo"`
	// Checksum is the SHA-256 of the endpoint and the canonical payload, so
	// equal calls get equal answers whatever the payload's key order.
	Checksum string `json:"checksum"`
}

type callOutput struct {
	Status int      `json:"status"`
	Body   callBody `json:"body"`
}

// callAPI simulates a call to an external API without any network: the
// answer is computed from the request, after api_latency_ms.
func callAPI(ctx context.Context, raw json.RawMessage, cfg agentkit.Config) (any, error) {
	var in callInput
	if err := decodeInput(raw, &in); err != nil {
		return nil, err
	}
	if in.Endpoint == "" {
		return nil, errors.New("endpoint is required")
	}
	payload, err := canonicalJSON(in.Payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	latency, err := apiLatency(cfg)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, latency); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(in.Endpoint+"\n"), payload...))
	return callOutput{
		Status: 200,
		Body:   callBody{Endpoint: in.Endpoint, Echo: payload, Checksum: hex.EncodeToString(sum[:])},
	}, nil
}

// canonicalJSON re-encodes a value with sorted keys and no spaces; numbers
// keep their text.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func apiLatency(cfg agentkit.Config) (time.Duration, error) {
	v, ok := cfg[keyAPILatency]
	if !ok {
		return defaultAPILatency, nil
	}
	f, ok := v.(float64)
	if !ok || f < 0 || f > math.MaxInt32 {
		return 0, fmt.Errorf("%s: must be a number of milliseconds from 0 to %d, got %v", keyAPILatency, math.MaxInt32, v)
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

func validateAPIConfig(cfg agentkit.Config) error {
	_, err := apiLatency(cfg)
	return err
}
