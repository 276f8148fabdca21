// Package outbox makes "change state" and "publish the event" one atomic step.
// A service writes its events into an outbox table in the same transaction as
// the change (Enqueue); a Relay publishes committed rows to JetStream with the
// event id as Nats-Msg-Id and deletes them once JetStream has acknowledged
// them. A crash between publish and delete re-publishes on restart, and
// JetStream drops the duplicate by its id; a crash before publish loses
// nothing, since the row is still there.
//
// The table (one per service schema) must look like:
//
//	CREATE TABLE <schema>.outbox (
//	    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
//	    id      uuid NOT NULL UNIQUE,
//	    subject text NOT NULL,
//	    headers jsonb NOT NULL,
//	    payload bytea NOT NULL,
//	    created_at timestamptz NOT NULL DEFAULT now()
//	);
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/events"
)

// Event is one event to publish.
type Event struct {
	// Subject is the NATS subject, from events.Subject.
	Subject string
	// Source is the producing service, e.g. "portal/agents".
	Source string
	// Resource is the thing the event is about, e.g. "agents/<id>".
	Resource string
	// Time is when the change happened.
	Time time.Time
	// Payload is the event message; its full name becomes the event type.
	Payload proto.Message
	// Outcome, when set, is sent as the portal-outcome header ("failure",
	// "denied"); the actor always travels from the context.
	Outcome string
}

var tableName = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)

// Outbox writes and relays the events of one table.
type Outbox struct {
	table   string
	channel string
}

// New returns the outbox stored in table ("schema.table").
func New(table string) (*Outbox, error) {
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("outbox: bad table name %q", table)
	}
	return &Outbox{table: table, channel: "outbox_" + regexp.MustCompile(`\W`).ReplaceAllString(table, "_")}, nil
}

// Enqueue writes events in tx and returns their ids. They are published after
// tx commits; the trace context of ctx travels with them.
func (o *Outbox) Enqueue(ctx context.Context, tx pgx.Tx, evs ...Event) ([]uuid.UUID, error) {
	var b pgx.Batch
	ids, err := o.Queue(ctx, &b, evs...)
	if err != nil {
		return nil, err
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("outbox: insert: %w", err)
	}
	return ids, nil
}

// Queue adds the statements that write evs to b, for a caller that sends its
// own statements in the same batch (one round trip) inside its transaction.
func (o *Outbox) Queue(ctx context.Context, b *pgx.Batch, evs ...Event) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, 0, len(evs))
	for _, ev := range evs {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("outbox: event id: %w", err)
		}
		h, payload, err := encodeEvent(ctx, id, ev)
		if err != nil {
			return nil, err
		}
		hj, err := json.Marshal(h)
		if err != nil {
			return nil, fmt.Errorf("outbox: headers: %w", err)
		}
		b.Queue(`INSERT INTO `+o.table+` (id, subject, headers, payload) VALUES ($1, $2, $3, $4)`, id, ev.Subject, hj, payload)
		ids = append(ids, id)
	}
	// Delivered at commit, and only then: wakes the relay without polling.
	b.Queue(`SELECT pg_notify($1, '')`, o.channel)
	return ids, nil
}

// encodeEvent returns an event's headers and payload as they go on the wire.
func encodeEvent(ctx context.Context, id uuid.UUID, ev Event) (map[string]string, []byte, error) {
	payload, err := proto.Marshal(ev.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: marshal %T: %w", ev.Payload, err)
	}
	h := map[string]string{
		events.HeaderID:          id.String(),
		events.HeaderSource:      ev.Source,
		events.HeaderType:        string(proto.MessageName(ev.Payload)),
		events.HeaderTime:        ev.Time.UTC().Format(time.RFC3339Nano),
		events.HeaderSubject:     ev.Resource,
		events.HeaderContentType: events.ContentType,
		events.HeaderActor:       actor.From(ctx),
	}
	if ev.Outcome != "" {
		h[events.HeaderOutcome] = ev.Outcome
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(h))
	return h, payload, nil
}

// Publish sends one event straight to JetStream, with the headers an outbox
// event carries, and waits for its acknowledgement. It is for events that
// record no change of state (a refused request): there is no transaction
// to tie them to, so nothing is lost by skipping the table.
func Publish(ctx context.Context, js jetstream.JetStream, ev Event) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("event id: %w", err)
	}
	h, payload, err := encodeEvent(ctx, id, ev)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(ev.Subject)
	for k, v := range h {
		msg.Header.Set(k, v)
	}
	msg.Data = payload
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id.String())); err != nil {
		return fmt.Errorf("publish %s: %w", ev.Subject, err)
	}
	return nil
}

// RelayOptions tune a Relay.
type RelayOptions struct {
	// Batch is how many rows one transaction publishes (default 256).
	Batch int
	// Poll is how often the table is checked without a notification (default 1s).
	Poll time.Duration
	// AckTimeout bounds the wait for JetStream's acknowledgements (default 10s).
	AckTimeout time.Duration
}

// Relay publishes committed outbox rows.
type Relay struct {
	o      *Outbox
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	logger *slog.Logger
	opts   RelayOptions

	published metric.Int64Counter
	lag       metric.Float64Histogram
}

// NewRelay returns a relay for o.
func NewRelay(o *Outbox, pool *pgxpool.Pool, js jetstream.JetStream, logger *slog.Logger, opts RelayOptions) (*Relay, error) {
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 10 * time.Second
	}
	m := otel.Meter("github.com/platformportal/portal/platform/outbox")
	published, err := m.Int64Counter("portal_outbox_published_total", metric.WithDescription("Events published by the outbox relay"))
	if err != nil {
		return nil, err
	}
	lag, err := m.Float64Histogram("portal_outbox_lag_seconds", metric.WithDescription("Time from enqueue to JetStream acknowledgement"),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5))
	if err != nil {
		return nil, err
	}
	return &Relay{o: o, pool: pool, js: js, logger: logger.With("outbox", o.table), opts: opts, published: published, lag: lag}, nil
}

// Run publishes until ctx ends. Several relays on one table may run (one per
// replica); an advisory lock lets one publish at a time, which keeps each
// resource's events in commit order.
func (r *Relay) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := r.listen(ctx)
		if ctx.Err() != nil {
			break
		}
		r.logger.Warn("outbox relay restarting", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (r *Relay) listen(ctx context.Context) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listen connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+r.o.channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+r.o.channel) //nolint:errcheck
	for {
		if err := r.Drain(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.logger.Error("outbox relay publish failed", "error", err)
		}
		wctx, cancel := context.WithTimeout(ctx, r.opts.Poll)
		_, err := conn.Conn().WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// Drain publishes every committed row, batch by batch.
func (r *Relay) Drain(ctx context.Context) error {
	for {
		n, err := r.publishBatch(ctx)
		if err != nil {
			return err
		}
		if n < r.opts.Batch {
			return nil
		}
	}
}

type row struct {
	seq     int64
	id      uuid.UUID
	subject string
	headers map[string]string
	payload []byte
	created time.Time
}

func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	// The lock and the read in one round trip: no rows when another relay
	// holds the lock (it will publish them).
	rows, err := tx.Query(ctx, `WITH lock AS (SELECT pg_try_advisory_xact_lock(hashtext($1)) AS held)
		SELECT seq, id, subject, headers, payload, created_at FROM `+r.o.table+`, lock
		WHERE lock.held ORDER BY seq LIMIT $2`, r.o.table, r.opts.Batch)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(rs pgx.CollectableRow) (row, error) {
		var x row
		err := rs.Scan(&x.seq, &x.id, &x.subject, &x.headers, &x.payload, &x.created)
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}

	futures := make([]jetstream.PubAckFuture, len(batch))
	for i, x := range batch {
		msg := nats.NewMsg(x.subject)
		for k, v := range x.headers {
			msg.Header.Set(k, v)
		}
		msg.Data = x.payload
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(x.id.String()))
		if err != nil {
			batch = batch[:i]
			futures = futures[:i]
			r.logger.Warn("outbox publish refused", "event_id", x.id, "error", err)
			break
		}
		futures[i] = f
	}
	timeout := time.NewTimer(r.opts.AckTimeout)
	defer timeout.Stop()
	done := make([]int64, 0, len(batch))
	now := time.Now()
wait:
	for i, f := range futures {
		select {
		case <-f.Ok():
			done = append(done, batch[i].seq)
			r.lag.Record(ctx, now.Sub(batch[i].created).Seconds())
		case err := <-f.Err():
			// Keep order: stop at the first failure; later rows wait for the next try
			// (those already stored are dropped as duplicates then).
			r.logger.Warn("outbox publish failed", "event_id", batch[i].id, "error", err)
			break wait
		case <-timeout.C:
			r.logger.Warn("outbox publish not acknowledged in time", "event_id", batch[i].id)
			break wait
		}
	}
	if len(done) == 0 {
		return 0, errors.New("no event acknowledged")
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+r.o.table+` WHERE seq = ANY($1)`, done); err != nil {
		return 0, fmt.Errorf("delete published: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	r.published.Add(ctx, int64(len(done)))
	if len(done) < len(batch) {
		return len(done), errors.New("some events were not acknowledged")
	}
	return len(done), nil
}

// RunThenDrain runs a relay until ctx ends, then gives drain up to timeout
// for a last pass over what the final requests committed (the rest is
// published at the next start).
func RunThenDrain(ctx context.Context, timeout time.Duration, run, drain func(context.Context) error) error {
	err := run(ctx)
	if ctx.Err() == nil {
		return err
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return drain(dctx)
}
