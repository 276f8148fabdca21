package agentkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/nats-io/nats.go"
)

// onControl is the control subscription's callback. NATS calls it for one
// message at a time, so control messages apply in the order they arrive.
func (a *agent) onControl(msg *nats.Msg) {
	c, err := decodeControl(msg.Data)
	if err == nil && c.Instance != "" && c.Instance != a.s.Instance {
		return // addressed to another replica
	}
	if err == nil {
		err = a.applyControl(c)
	}
	if msg.Reply == "" {
		if err != nil {
			a.log.Warn("control message refused", "err", err)
		}
		return
	}
	reply := ControlReply{
		OK:       err == nil,
		Config:   a.conf.Load().cfg,
		Paused:   a.isPaused(),
		Instance: a.s.Instance,
	}
	if err != nil {
		reply.Error = err.Error()
	}
	data, merr := json.Marshal(reply)
	if merr != nil {
		a.log.Error("marshal control reply", "err", merr)
		return
	}
	if perr := msg.Respond(data); perr != nil {
		a.log.Warn("reply to control message", "err", perr)
	}
}

// decodeControl is strict: a misspelt field ("paused") would otherwise be a
// silent no-op that looks like success.
func decodeControl(data []byte) (Control, error) {
	var c Control
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil // an empty message asks for the state, like {}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Control{}, fmt.Errorf("invalid control message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Control{}, errors.New("invalid control message: data after the JSON object")
	}
	return c, nil
}

// applyControl checks the whole message before changing anything, so a
// refused message leaves the config and the pause state as they were.
func (a *agent) applyControl(c Control) error {
	a.confMu.Lock()
	defer a.confMu.Unlock()

	var next *snapshot
	if c.Config != nil {
		cfg := mergeConfig(a.conf.Load().cfg, c.Config)
		if err := validateConfig(cfg, a.opts.ValidateConfig); err != nil {
			return fmt.Errorf("config refused: %w", err)
		}
		k, _ := parseKnobs(cfg) // validated just above
		next = &snapshot{cfg: cfg, k: k}
	}
	if c.Pause != nil && !*c.Pause {
		// Resuming is the one step that can fail; do it first.
		if err := a.resume(); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		a.log.Info("resumed")
	}
	if next != nil {
		a.conf.Store(next)
		a.log.Info("config patched", "keys", slices.Sorted(maps.Keys(c.Config)))
	}
	if c.Pause != nil && *c.Pause {
		a.pause()
		a.log.Info("paused")
	}
	return nil
}
