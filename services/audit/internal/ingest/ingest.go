// Package ingest records the platform's events in the audit log. Its
// position in the stream is the log itself (the stream sequence of the last
// entry, committed with the entries): at start, and after any failure, an
// ordered JetStream consumer reads from the next sequence on, in batches,
// each appended to the chain in one transaction. So a crash anywhere loses
// nothing and reorders nothing, which a durable consumer's redeliveries
// (after its ack wait, behind newer events) would; and the store skips
// events it already holds, so nothing is recorded twice either.
package ingest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/services/audit/internal/audit"

	// The event payloads the log decodes into details, by their type names.
	_ "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	_ "github.com/platformportal/portal/proto/gen/go/portal/audit/v1"
	_ "github.com/platformportal/portal/proto/gen/go/portal/identity/v1"
	_ "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
)

// Appender is the part of the store the consumer writes through.
type Appender interface {
	Append(ctx context.Context, recs []audit.Record) (written, skipped int, err error)
	// Position is the stream sequence of the last event recorded (0: none).
	Position(ctx context.Context) (uint64, error)
}

// Options tune a Consumer.
type Options struct {
	// Batch is how many events one transaction records at most (default 500).
	Batch int
	// IdleWait is how long one pull waits for a new event when none is
	// waiting (default 10s); cancelling the context ends it at once.
	IdleWait time.Duration
	// RetryWait is the pause after a failed batch (default 1s).
	RetryWait time.Duration
}

// Consumer records events.
type Consumer struct {
	js     jetstream.JetStream
	store  Appender
	logger *slog.Logger
	opts   Options

	written   metric.Int64Counter
	skipped   metric.Int64Counter
	malformed metric.Int64Counter
}

// New returns a consumer writing to store.
func New(js jetstream.JetStream, store Appender, logger *slog.Logger, opts Options) (*Consumer, error) {
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.IdleWait <= 0 {
		opts.IdleWait = 10 * time.Second
	}
	if opts.RetryWait <= 0 {
		opts.RetryWait = time.Second
	}
	m := otel.Meter("github.com/platformportal/portal/services/audit")
	written, err := m.Int64Counter("portal_audit_entries_written_total", metric.WithDescription("Events recorded in the audit log"))
	if err != nil {
		return nil, err
	}
	skipped, err := m.Int64Counter("portal_audit_duplicates_skipped_total", metric.WithDescription("Redelivered events the audit log already held"))
	if err != nil {
		return nil, err
	}
	malformed, err := m.Int64Counter("portal_audit_malformed_events_total", metric.WithDescription("Events recorded without a usable ce-id, under a synthetic id"))
	if err != nil {
		return nil, err
	}
	return &Consumer{js: js, store: store, logger: logger, opts: opts, written: written, skipped: skipped, malformed: malformed}, nil
}

// Run records events until ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := c.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		c.logger.Warn("audit consumer stopped; resuming from the log's position", "error", err)
		sleep(ctx, c.opts.RetryWait)
	}
	return nil
}

// follow reads the stream from the log's position until ctx ends or
// something fails.
func (c *Consumer) follow(ctx context.Context) error {
	pos, err := c.store.Position(ctx)
	if err != nil {
		return err
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if pos > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: pos + 1}
	}
	cons, err := c.js.OrderedConsumer(ctx, events.Stream, cfg)
	if err != nil {
		return fmt.Errorf("consumer on %s from %d: %w", events.Stream, pos+1, err)
	}
	for ctx.Err() == nil {
		msgs, err := c.fetch(ctx, cons)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if len(msgs) == 0 {
			continue
		}
		if err := c.record(ctx, msgs); err != nil {
			return fmt.Errorf("record %d events: %w", len(msgs), err)
		}
	}
	return nil
}

// fetch returns the events waiting, up to a batch; when none is waiting, it
// waits for the next one and takes whatever arrived with it.
func (c *Consumer) fetch(ctx context.Context, cons jetstream.Consumer) ([]jetstream.Msg, error) {
	msgs, err := collect(cons.FetchNoWait(c.opts.Batch))
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	wctx, cancel := context.WithTimeout(ctx, c.opts.IdleWait)
	msgs, err = collect(cons.Fetch(1, jetstream.FetchContext(wctx)))
	cancel()
	if err != nil || len(msgs) == 0 {
		if wctx.Err() != nil && ctx.Err() == nil {
			err = nil // nothing came in IdleWait
		}
		return msgs, err
	}
	more, err := collect(cons.FetchNoWait(c.opts.Batch - 1))
	return append(msgs, more...), err
}

func collect(b jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, b.Error()
}

// record appends msgs to the log in stream order.
func (c *Consumer) record(ctx context.Context, msgs []jetstream.Msg) error {
	recs := make([]audit.Record, 0, len(msgs))
	for _, m := range msgs {
		rec, ok := Decode(m)
		if !ok {
			c.malformed.Add(ctx, 1)
			c.logger.Warn("event without a usable ce-id recorded under a synthetic id",
				"subject", m.Subject(), "stream_seq", rec.StreamSeq, "event_id", rec.EventID)
		}
		recs = append(recs, rec)
	}
	// An ordered consumer delivers in stream order already; the sort keeps
	// the log's order independent of that.
	slices.SortStableFunc(recs, func(a, b audit.Record) int { return cmp.Compare(a.StreamSeq, b.StreamSeq) })
	written, skipped, err := c.store.Append(ctx, recs)
	if err != nil {
		return err
	}
	c.written.Add(ctx, int64(written))
	c.skipped.Add(ctx, int64(skipped))
	return nil
}

// syntheticNamespace makes ids for events that lack a usable one.
var syntheticNamespace = uuid.MustParse("6f1d5e0c-2a77-4b8e-9d0a-5b3c1e7f9a21")

// Decode turns a message into a record. ok is false when the message has no
// usable ce-id: it is then recorded under an id derived from its place in the
// stream, the same at every redelivery, with its subject and headers in the
// details.
func Decode(m jetstream.Msg) (rec audit.Record, ok bool) {
	h := m.Headers()
	var streamTime time.Time
	if meta, err := m.Metadata(); err == nil {
		rec.StreamSeq = meta.Sequence.Stream
		streamTime = meta.Timestamp
	}
	id, err := uuid.Parse(h.Get(events.HeaderID))
	ok = err == nil && id != uuid.Nil
	if !ok {
		id = uuid.NewSHA1(syntheticNamespace, []byte(events.Stream+"/"+strconv.FormatUint(rec.StreamSeq, 10)+"/"+
			strconv.FormatInt(streamTime.UnixNano(), 10)))
	}
	rec.EventID = id
	rec.Action = clean(h.Get(events.HeaderType))
	if rec.Action == "" {
		rec.Action = clean(m.Subject())
	}
	rec.Time = streamTime
	if t, err := time.Parse(time.RFC3339Nano, h.Get(events.HeaderTime)); err == nil {
		rec.Time = t
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	rec.Actor = clean(h.Get(events.HeaderActor))
	if rec.Actor == "" {
		rec.Actor = "unknown"
	}
	rec.Outcome = clean(h.Get(events.HeaderOutcome))
	if rec.Outcome == "" {
		rec.Outcome = "success"
	}
	rec.Resource = clean(h.Get(events.HeaderSubject))
	rec.Source = clean(h.Get(events.HeaderSource))
	rec.Details = details(h.Get(events.HeaderType), m.Data())
	if !ok {
		rec.Details = malformedDetails(m)
	}
	rec.Summary = audit.Summary(&rec)
	return rec, ok
}

// details renders the payload as JSON through the registered message types;
// a payload of an unknown type, or one that does not decode, is kept as
// base64.
func details(typ string, data []byte) []byte {
	raw := map[string]string{"payload_base64": base64.StdEncoding.EncodeToString(data)}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typ))
	if err != nil {
		return mustJSON(raw)
	}
	msg := mt.New().Interface()
	if err := proto.Unmarshal(data, msg); err != nil {
		raw["decode_error"] = err.Error()
		return mustJSON(raw)
	}
	b, err := protojson.Marshal(msg)
	if err != nil {
		raw["decode_error"] = err.Error()
		return mustJSON(raw)
	}
	// protojson varies its spacing on purpose; the log keeps a compact form.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}

func malformedDetails(m jetstream.Msg) []byte {
	hs := map[string]string{}
	for k, v := range m.Headers() {
		hs[clean(k)] = clean(strings.Join(v, ", "))
	}
	return mustJSON(map[string]any{
		"malformed":      "no usable ce-id header",
		"nats_subject":   clean(m.Subject()),
		"headers":        hs,
		"payload_base64": base64.StdEncoding.EncodeToString(m.Data()),
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ingest: marshal %T: %v", v, err)) // maps of strings always marshal
	}
	return b
}

// clean makes a header value storable as PostgreSQL text: valid UTF-8,
// without NUL.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
