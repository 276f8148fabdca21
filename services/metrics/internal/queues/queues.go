// Package queues keeps a dead-letter queue (DLQ) for JetStream consumers: a
// Collector copies every message a consumer gave up on (too many deliveries,
// or terminated) into a DLQ stream, and an Inspector lets an operator look at,
// retry and purge those entries.
//
// The DLQ is itself a JetStream stream, so entries survive restarts and are
// bounded by the stream's limits; each entry keeps the original headers and
// payload plus headers naming where it came from.
package queues

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platformportal/portal/platform/events"
)

// DefaultStream is the DLQ stream's name; its subjects are SubjectPrefix + ">".
const DefaultStream = "PORTAL_DLQ"

// SubjectPrefix starts every DLQ subject: dlq.<stream>.<consumer>. Stream and
// consumer names cannot contain dots, so the subject always has three tokens.
const SubjectPrefix = "dlq."

// Headers a DLQ entry carries besides the original message's own headers.
// They share a prefix so Retry can strip them before republishing.
const (
	headerPrefix = "portal-dlq-"

	HeaderSubject    = headerPrefix + "subject"    // the original subject
	HeaderStream     = headerPrefix + "stream"     // the source stream
	HeaderSequence   = headerPrefix + "sequence"   // the message's sequence in the source stream
	HeaderConsumer   = headerPrefix + "consumer"   // the consumer that gave up
	HeaderDeliveries = headerPrefix + "deliveries" // delivery attempts, as reported by the advisory
	HeaderKind       = headerPrefix + "kind"       // KindMaxDeliveries or KindTerminated
	HeaderReason     = headerPrefix + "reason"     // why: the Term reason, or "max deliveries reached"
	HeaderTime       = headerPrefix + "time"       // RFC 3339 with nanoseconds, when the entry was written
	HeaderAgent      = headerPrefix + "agent"      // the agent id, when the original names one
	HeaderMissing    = headerPrefix + "missing"    // "true" when the original was already gone
)

// AgentHeader is read from the original message for the agent id. No producer
// sets it yet; events name their resource in ce-subject ("agents/<id>"), which
// is the fallback (see agentID).
const AgentHeader = "portal-agent"

// Kinds of dead letter.
const (
	KindMaxDeliveries = "max_deliveries"
	KindTerminated    = "terminated"
)

// StreamConfig bounds the DLQ stream. Zero fields take the defaults below.
type StreamConfig struct {
	Name     string        // DefaultStream
	MaxAge   time.Duration // 14 days: long enough to notice and act
	MaxMsgs  int64         // 100 000
	MaxBytes int64         // 1 GiB
	// Duplicates is how long a second advisory for the same message is
	// recognised (by Nats-Msg-Id) and dropped; 1 hour, at most MaxAge.
	Duplicates time.Duration
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = DefaultStream
	}
	if c.MaxAge == 0 {
		c.MaxAge = 14 * 24 * time.Hour
	}
	if c.MaxMsgs == 0 {
		c.MaxMsgs = 100_000
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 1 << 30
	}
	if c.Duplicates == 0 {
		c.Duplicates = time.Hour
	}
	if c.Duplicates > c.MaxAge {
		c.Duplicates = c.MaxAge
	}
	return c
}

// EnsureStream returns the DLQ stream, creating it if it is missing. An
// existing stream is left as it is, so an operator's changes to its limits
// survive restarts.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	cfg = cfg.withDefaults()
	s, err := js.Stream(ctx, cfg.Name)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("look up dlq stream %s: %w", cfg.Name, err)
	}
	s, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Name,
		Description: "Dead letters: messages JetStream consumers gave up on, with their origin",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxMsgs:     cfg.MaxMsgs,
		MaxBytes:    cfg.MaxBytes,
		Duplicates:  cfg.Duplicates,
	})
	if err != nil {
		return nil, fmt.Errorf("create dlq stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// Subject returns the DLQ subject for a consumer of a stream.
func Subject(stream, consumer string) string {
	return SubjectPrefix + stream + "." + consumer
}

// Entry is one dead letter as read back from the DLQ.
type Entry struct {
	Seq        uint64 // sequence in the DLQ stream; Retry and Purge take it
	Subject    string // original subject ("" when the original was missing)
	Stream     string
	StreamSeq  uint64
	Consumer   string
	Deliveries uint64
	Kind       string
	Reason     string
	AgentID    string
	Time       time.Time // when the entry was written
	Missing    bool      // the original was gone; Data is empty
	// Header holds the original message's headers, without the DLQ's.
	Header nats.Header
	Data   []byte
}

// entryFromMsg decodes a DLQ message. Malformed numbers decode as zero rather
// than failing: the entry is still worth showing.
func entryFromMsg(m *jetstream.RawStreamMsg) Entry {
	e := Entry{Seq: m.Sequence, Data: m.Data, Header: nats.Header{}}
	for k, v := range m.Header {
		if !isDLQHeader(k) && !isNATSHeader(k) {
			e.Header[k] = append([]string(nil), v...)
		}
	}
	h := m.Header
	e.Subject = h.Get(HeaderSubject)
	e.Stream = h.Get(HeaderStream)
	e.StreamSeq, _ = strconv.ParseUint(h.Get(HeaderSequence), 10, 64)
	e.Consumer = h.Get(HeaderConsumer)
	e.Deliveries, _ = strconv.ParseUint(h.Get(HeaderDeliveries), 10, 64)
	e.Kind = h.Get(HeaderKind)
	e.Reason = h.Get(HeaderReason)
	e.AgentID = h.Get(HeaderAgent)
	e.Time, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderTime))
	e.Missing = h.Get(HeaderMissing) == "true"
	return e
}

// isDLQHeader reports whether a header is one this package adds. nats.Header
// keys are case-sensitive, so compare without case in case a proxy rewrote them.
func isDLQHeader(k string) bool {
	return len(k) >= len(headerPrefix) && strings.EqualFold(k[:len(headerPrefix)], headerPrefix)
}

// isNATSHeader reports JetStream's own headers (Nats-Msg-Id, Nats-Expected-*,
// and those direct get adds): copied along they would make the server dedupe
// or reject a republished message.
func isNATSHeader(k string) bool {
	return len(k) >= 5 && strings.EqualFold(k[:5], "Nats-")
}

// agentID finds the agent a message is about: the portal-agent header if a
// producer set one, else an events subject of the form "agents/<id>".
func agentID(h nats.Header) string {
	if id := h.Get(AgentHeader); id != "" {
		return id
	}
	if id, ok := strings.CutPrefix(h.Get(events.HeaderSubject), "agents/"); ok {
		// "agents/<id>/instances/..." still names the agent first.
		id, _, _ = strings.Cut(id, "/")
		return id
	}
	return ""
}
