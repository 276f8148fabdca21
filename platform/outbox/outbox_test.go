package outbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/natsserver"
	"github.com/platformportal/portal/platform/outbox"
	"github.com/platformportal/portal/platform/pgtest"
	"github.com/platformportal/portal/platform/postgres"
)

var migrations = fstest.MapFS{"00001_outbox.sql": {Data: []byte(`
-- +goose Up
CREATE TABLE obtest.outbox (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         uuid NOT NULL UNIQUE,
    subject    text NOT NULL,
    headers    jsonb NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- +goose Down
DROP TABLE obtest.outbox;
`)}}

// TestRelaysTakeTurns runs three relays on one table while writers commit
// events for several resources: every event reaches the stream exactly once
// and each resource's events keep their commit order.
func TestRelaysTakeTurns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := pgtest.NewPool(t, pgtest.Migration{Schema: "obtest", FS: migrations})
	_, js := natsserver.NewTestJetStream(t)
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OBTEST", Subjects: []string{"portal.events.>"}, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New("obtest.outbox")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r, err := outbox.NewRelay(ob, pool, js, logging.Discard(), outbox.RelayOptions{Batch: 7, Poll: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go r.Run(ctx) //nolint:errcheck
	}

	const resources, perResource = 5, 60
	var wg sync.WaitGroup
	for r := range resources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perResource {
				err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
					_, err := ob.Enqueue(ctx, tx, outbox.Event{
						Subject: events.Subject("test", "counted"), Source: "test", Resource: fmt.Sprintf("things/%d", r),
						Time: time.Now(), Payload: wrapperspb.String(fmt.Sprintf("%d/%d", r, i)),
					})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= resources*perResource || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cons, err := js.OrderedConsumer(ctx, "OBTEST", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	next := make([]int, resources)
	ids := map[string]bool{}
	for n := 0; n < resources*perResource; n++ {
		msg, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		if id := msg.Headers().Get(events.HeaderID); ids[id] {
			t.Fatalf("event %s published twice", id)
		} else {
			ids[id] = true
		}
		var v wrapperspb.StringValue
		if err := proto.Unmarshal(msg.Data(), &v); err != nil {
			t.Fatal(err)
		}
		var r, i int
		fmt.Sscanf(v.GetValue(), "%d/%d", &r, &i) //nolint:errcheck
		if i != next[r] {
			t.Fatalf("resource %d: event %d arrived when %d was due", r, i, next[r])
		}
		next[r]++
		if got := msg.Headers().Get(events.HeaderType); got != "google.protobuf.StringValue" {
			t.Errorf("ce-type = %q", got)
		}
	}
	if _, err := cons.Next(jetstream.FetchMaxWait(300 * time.Millisecond)); err == nil {
		t.Error("more events on the stream than were committed")
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM obtest.outbox`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows left in the outbox (%v)", left, err)
	}
}

// TestRolledBackEventsVanish: an event enqueued in a transaction that rolls
// back is never published.
func TestRolledBackEventsVanish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t, pgtest.Migration{Schema: "obtest", FS: migrations})
	ob, _ := outbox.New("obtest.outbox")
	err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := ob.Enqueue(ctx, tx, outbox.Event{Subject: "portal.events.test.x", Time: time.Now(), Payload: wrapperspb.String("x")}); err != nil {
			return err
		}
		return fmt.Errorf("the change failed")
	})
	if err == nil {
		t.Fatal("InTx returned nil for a failing function")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM obtest.outbox`).Scan(&n); err != nil || n != 0 {
		t.Errorf("outbox has %d rows after rollback (%v)", n, err)
	}
}

func TestNewRejectsBadTable(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"outbox", "a.b; drop table x", "A.outbox", ""} {
		if _, err := outbox.New(name); err == nil {
			t.Errorf("New(%q) = nil error", name)
		}
	}
}
