package kinds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/platformportal/portal/agentkit"
)

// maxMemoryKeys bounds one replica's memory, so a client that never
// forgets cannot take the process down.
const maxMemoryKeys = 100_000

// memory is a key-value store kept in the process: short-term entries
// expire after their TTL, long-term ones stay until forgotten. Each replica
// has its own; nothing is shared or persisted.
type memory struct {
	now   func() time.Time
	mu    sync.Mutex
	items map[string]memoryItem
}

type memoryItem struct {
	value   json.RawMessage
	expires time.Time // zero: long-term
}

func (it memoryItem) expired(now time.Time) bool {
	return !it.expires.IsZero() && !now.Before(it.expires)
}

func newMemory(now func() time.Time) *memory {
	if now == nil {
		now = time.Now
	}
	return &memory{now: now, items: map[string]memoryItem{}}
}

type rememberInput struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	TTLMs *float64        `json:"ttl_ms"`
}

type rememberOutput struct {
	Stored bool   `json:"stored"`
	Term   string `json:"term"` // "short" (with a TTL) or "long"
}

func (m *memory) remember(_ context.Context, raw json.RawMessage, _ agentkit.Config) (any, error) {
	var in rememberInput
	if err := decodeInput(raw, &in); err != nil {
		return nil, err
	}
	if in.Key == "" {
		return nil, errors.New("key is required")
	}
	if in.Value == nil {
		return nil, errors.New("value is required")
	}
	now := m.now()
	item := memoryItem{value: in.Value}
	term := "long"
	if in.TTLMs != nil {
		if *in.TTLMs <= 0 {
			return nil, fmt.Errorf("ttl_ms: must be positive, got %v", *in.TTLMs)
		}
		item.expires = now.Add(time.Duration(*in.TTLMs * float64(time.Millisecond)))
		term = "short"
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, exists := m.items[in.Key]; !exists && len(m.items) >= maxMemoryKeys {
		m.sweepLocked(now)
		if len(m.items) >= maxMemoryKeys {
			return nil, fmt.Errorf("memory is full (%d keys): forget some first", maxMemoryKeys)
		}
	}
	m.items[in.Key] = item
	return rememberOutput{Stored: true, Term: term}, nil
}

type keyInput struct {
	Key string `json:"key"`
}

type recallOutput struct {
	Value json.RawMessage `json:"value"`
	Found bool            `json:"found"`
}

func (m *memory) recall(_ context.Context, raw json.RawMessage, _ agentkit.Config) (any, error) {
	var in keyInput
	if err := decodeInput(raw, &in); err != nil {
		return nil, err
	}
	if in.Key == "" {
		return nil, errors.New("key is required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	item, ok := m.items[in.Key]
	if ok && item.expired(m.now()) {
		delete(m.items, in.Key)
		ok = false
	}
	if !ok {
		return recallOutput{Value: json.RawMessage("null")}, nil
	}
	return recallOutput{Value: item.value, Found: true}, nil
}

type forgetOutput struct {
	Forgotten bool `json:"forgotten"` // false when there was nothing to forget
}

func (m *memory) forget(_ context.Context, raw json.RawMessage, _ agentkit.Config) (any, error) {
	var in keyInput
	if err := decodeInput(raw, &in); err != nil {
		return nil, err
	}
	if in.Key == "" {
		return nil, errors.New("key is required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	item, ok := m.items[in.Key]
	delete(m.items, in.Key)
	return forgetOutput{Forgotten: ok && !item.expired(m.now())}, nil
}

func (m *memory) sweepLocked(now time.Time) {
	for k, it := range m.items {
		if it.expired(now) {
			delete(m.items, k)
		}
	}
}
