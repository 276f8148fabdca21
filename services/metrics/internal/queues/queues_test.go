package queues

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/natsserver"
)

const source = "ORDERS"

type fixture struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	src jetstream.Stream
	col *Collector
	in  *Inspector
}

// newFixture starts a JetStream server with a source stream and a running
// Collector.
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	nc, js := natsserver.NewTestJetStream(tb)
	ctx := context.Background()
	src, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: source, Subjects: []string{"orders.>"}})
	if err != nil {
		tb.Fatal(err)
	}
	col := NewCollector(nc, js, slog.New(slog.NewTextHandler(io.Discard, nil)), StreamConfig{})
	if err := col.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := col.Close(); err != nil {
			tb.Error(err)
		}
	})
	return &fixture{nc: nc, js: js, src: src, col: col, in: NewInspector(js, StreamConfig{})}
}

// publish puts a message on the source stream and returns its sequence.
func (f *fixture) publish(tb testing.TB, subject, agent, data string) uint64 {
	tb.Helper()
	m := nats.NewMsg(subject)
	m.Header.Set(events.HeaderSubject, "agents/"+agent)
	m.Header.Set(events.HeaderID, "id-"+data)
	m.Data = []byte(data)
	// The original's own Nats-Msg-Id must not follow it into the DLQ.
	ack, err := f.js.PublishMsg(context.Background(), m, jetstream.WithMsgID("id-"+data))
	if err != nil {
		tb.Fatal(err)
	}
	return ack.Sequence
}

// consume runs handler on every message of a new durable consumer until the
// test ends.
func (f *fixture) consume(tb testing.TB, cfg jetstream.ConsumerConfig, handler jetstream.MessageHandler) {
	tb.Helper()
	ctx := context.Background()
	c, err := f.src.CreateConsumer(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	cc, err := c.Consume(handler)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cc.Stop)
}

func (f *fixture) dlqCount(tb testing.TB) uint64 {
	tb.Helper()
	s, err := f.js.Stream(context.Background(), DefaultStream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return info.State.Msgs
}

// waitPeek polls until Peek(filter) returns n entries.
func (f *fixture) waitPeek(tb testing.TB, filter Filter, n int) []Entry {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := f.in.Peek(context.Background(), filter)
		if err != nil {
			tb.Fatal(err)
		}
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("Peek(%+v) = %d entries after 10s, want %d", filter, len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ignoreVolatile leaves out what the server or the clock decides.
var ignoreVolatile = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.String()
	return s == "Seq" || s == "Time" || s == "Deliveries"
}, cmp.Ignore())

func TestCollector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler jetstream.MessageHandler
		want    Entry
	}{
		{
			name:    "max deliveries",
			handler: func(m jetstream.Msg) { _ = m.Nak() },
			want: Entry{
				Subject: "orders.created", Stream: source, StreamSeq: 1, Consumer: "worker",
				Kind: KindMaxDeliveries, Reason: "max deliveries reached", AgentID: "a1",
				Header: nats.Header{events.HeaderSubject: {"agents/a1"}, events.HeaderID: {"id-payload"}},
				Data:   []byte("payload"),
			},
		},
		{
			name:    "terminated",
			handler: func(m jetstream.Msg) { _ = m.TermWithReason("cannot parse") },
			want: Entry{
				Subject: "orders.created", Stream: source, StreamSeq: 1, Consumer: "worker",
				Kind: KindTerminated, Reason: "cannot parse", AgentID: "a1",
				Header: nats.Header{events.HeaderSubject: {"agents/a1"}, events.HeaderID: {"id-payload"}},
				Data:   []byte("payload"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			// Capture the advisory so it can be delivered a second time.
			advs, err := f.nc.SubscribeSync(AdvisoryMaxDeliveries + ".>")
			if err != nil {
				t.Fatal(err)
			}
			advs2, err := f.nc.SubscribeSync(AdvisoryTerminated + ".>")
			if err != nil {
				t.Fatal(err)
			}
			f.publish(t, "orders.created", "a1", "payload")
			f.consume(t, jetstream.ConsumerConfig{Durable: "worker", MaxDeliver: 2, AckWait: time.Second}, tt.handler)

			got := f.waitPeek(t, Filter{Stream: source, Consumer: "worker"}, 1)
			if diff := cmp.Diff(tt.want, got[0], ignoreVolatile); diff != "" {
				t.Errorf("Peek entry mismatch (-want +got):\n%s", diff)
			}
			if tt.want.Kind == KindMaxDeliveries && got[0].Deliveries < 2 {
				t.Errorf("Deliveries = %d, want >= 2", got[0].Deliveries)
			}
			if got[0].Time.IsZero() {
				t.Error("Time is zero")
			}

			// The same advisory again, on the wire: still one entry.
			var adv *nats.Msg
			for _, s := range []*nats.Subscription{advs, advs2} {
				if m, err := s.NextMsg(100 * time.Millisecond); err == nil {
					adv = m
				}
			}
			if adv == nil {
				t.Fatal("no advisory captured")
			}
			if err := f.nc.Publish(adv.Subject, adv.Data); err != nil {
				t.Fatal(err)
			}
			if err := f.col.handle(context.Background(), adv.Subject, adv.Data); err != nil {
				t.Fatalf("handle(repeat advisory) = %v", err)
			}
			if err := f.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // let the wire copy be handled too
			if n := f.dlqCount(t); n != 1 {
				t.Errorf("DLQ holds %d messages after a repeated advisory, want 1", n)
			}
		})
	}
}

func TestCollectorOriginalGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	seq := f.publish(t, "orders.created", "a1", "payload")
	if err := f.src.DeleteMsg(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
	adv, _ := json.Marshal(advisory{Stream: source, Consumer: "worker", StreamSeq: seq, Deliveries: 5})
	if err := f.col.handle(context.Background(), AdvisoryMaxDeliveries+"."+source+".worker", adv); err != nil {
		t.Fatal(err)
	}
	got := f.waitPeek(t, Filter{}, 1)
	want := Entry{Stream: source, StreamSeq: seq, Consumer: "worker", Deliveries: 5, Kind: KindMaxDeliveries,
		Reason: "max deliveries reached", Missing: true, Header: nats.Header{}}
	if diff := cmp.Diff(want, got[0], cmp.FilterPath(func(p cmp.Path) bool {
		return p.String() == "Seq" || p.String() == "Time"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("Peek entry mismatch (-want +got):\n%s", diff)
	}
	// Nothing to put back.
	res, err := f.in.Retry(context.Background(), []uint64{got[0].Seq}, RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != ActionSkipped {
		t.Errorf("Retry(missing original) action = %q, want %q", res[0].Action, ActionSkipped)
	}
}

// deadLetter puts n messages straight into the DLQ through the collector's
// advisory handling, as consumer "worker" giving up on them.
func deadLetter(tb testing.TB, f *fixture, consumer string, n int) {
	tb.Helper()
	for i := range n {
		seq := f.publish(tb, "orders.created", "a"+strconv.Itoa(i), consumer+"-"+strconv.Itoa(i))
		adv, _ := json.Marshal(advisory{Stream: source, Consumer: consumer, StreamSeq: seq, Deliveries: 2})
		if err := f.col.handle(context.Background(), AdvisoryMaxDeliveries+"."+source+"."+consumer, adv); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestPeek(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	deadLetter(t, f, "w1", 3)
	deadLetter(t, f, "w2", 2)

	tests := []struct {
		name   string
		filter Filter
		want   []string // payloads
	}{
		{"all", Filter{}, []string{"w1-0", "w1-1", "w1-2", "w2-0", "w2-1"}},
		{"consumer", Filter{Consumer: "w2"}, []string{"w2-0", "w2-1"}},
		{"stream and consumer", Filter{Stream: source, Consumer: "w1"}, []string{"w1-0", "w1-1", "w1-2"}},
		{"other stream", Filter{Stream: "NOPE"}, nil},
		{"limit", Filter{Limit: 2}, []string{"w1-0", "w1-1"}},
		{"after", Filter{After: 2, Limit: 2}, []string{"w1-2", "w2-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Twice: peeking consumes nothing.
			for range 2 {
				got, err := f.in.Peek(context.Background(), tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				var payloads []string
				for _, e := range got {
					payloads = append(payloads, string(e.Data))
				}
				if diff := cmp.Diff(tt.want, payloads); diff != "" {
					t.Errorf("Peek(%+v) payloads mismatch (-want +got):\n%s", tt.filter, diff)
				}
			}
		})
	}
	if _, err := f.in.Peek(context.Background(), Filter{Stream: "a.b"}); err == nil {
		t.Error("Peek(stream with a dot) = nil error, want invalid")
	}
}

// healthy returns a channel receiving the payloads a consumer of new
// messages on the source stream gets.
func healthy(tb testing.TB, f *fixture) <-chan string {
	tb.Helper()
	ch := make(chan string, 100)
	f.consume(tb, jetstream.ConsumerConfig{Durable: "healthy", DeliverPolicy: jetstream.DeliverNewPolicy}, func(m jetstream.Msg) {
		ch <- string(m.Data())
		_ = m.Ack()
	})
	return ch
}

// receive collects payloads until none arrives for quiet.
func receive(ch <-chan string, want int, quiet time.Duration) []string {
	var got []string
	deadline := time.After(10 * time.Second)
	for {
		wait := quiet
		if len(got) < want {
			wait = 10 * time.Second
		}
		select {
		case p := <-ch:
			got = append(got, p)
		case <-time.After(wait):
			return got
		case <-deadline:
			return got
		}
	}
}

func seqsOf(es []Entry) []uint64 {
	var s []uint64
	for _, e := range es {
		s = append(s, e.Seq)
	}
	return s
}

func TestRetryDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	deadLetter(t, f, "worker", 2)
	ch := healthy(t, f)
	before := f.waitPeek(t, Filter{}, 2)

	res, err := f.in.Retry(context.Background(), append(seqsOf(before), 999), RetryOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []RetryResult{
		{Seq: before[0].Seq, Subject: "orders.created", Action: ActionWouldRetry},
		{Seq: before[1].Seq, Subject: "orders.created", Action: ActionWouldRetry},
		{Seq: 999, Action: ActionSkipped, Reason: "no such entry"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Retry(dry run) mismatch (-want +got):\n%s", diff)
	}
	after, err := f.in.Peek(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("DLQ changed by a dry run (-before +after):\n%s", diff)
	}
	if got := receive(ch, 0, 300*time.Millisecond); len(got) != 0 {
		t.Errorf("healthy consumer got %q after a dry run, want nothing", got)
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.publish(t, "orders.created", "a1", "payload")
	// A consumer that fails everything, stopped once it has dead-lettered the
	// message so it does not fail the retried copy too.
	c, err := f.src.CreateConsumer(context.Background(), jetstream.ConsumerConfig{Durable: "worker", MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := c.Consume(func(m jetstream.Msg) { _ = m.Nak() })
	if err != nil {
		t.Fatal(err)
	}
	entries := f.waitPeek(t, Filter{}, 1)
	cc.Stop()
	if err := f.js.DeleteConsumer(context.Background(), source, "worker"); err != nil {
		t.Fatal(err)
	}
	ch := healthy(t, f)

	res, err := f.in.Retry(context.Background(), seqsOf(entries), RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != ActionRetried {
		t.Errorf("Retry action = %q, want %q", res[0].Action, ActionRetried)
	}
	if got := receive(ch, 1, 500*time.Millisecond); !cmp.Equal(got, []string{"payload"}) {
		t.Errorf("healthy consumer got %q, want exactly [payload]", got)
	}
	if n := f.dlqCount(t); n != 0 {
		t.Errorf("DLQ holds %d messages after Retry, want 0", n)
	}
	// The republished copy kept its headers and lost the DLQ's.
	info, err := f.src.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("source stream holds %d messages, want 2 (original and retry)", info.State.Msgs)
	}
	m, err := f.src.GetMsg(context.Background(), info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(events.HeaderSubject); got != "agents/a1" {
		t.Errorf("retried %s = %q, want agents/a1", events.HeaderSubject, got)
	}
	if got := m.Header.Get(HeaderStream); got != "" {
		t.Errorf("retried message carries %s = %q, want none", HeaderStream, got)
	}

	// Retrying the same entry again is a no-op.
	res, err = f.in.Retry(context.Background(), seqsOf(entries), RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != ActionSkipped {
		t.Errorf("second Retry action = %q, want %q", res[0].Action, ActionSkipped)
	}
	if got := receive(ch, 0, 300*time.Millisecond); len(got) != 0 {
		t.Errorf("healthy consumer got %q after a second Retry, want nothing", got)
	}
}

func TestRetryRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	deadLetter(t, f, "worker", 10)
	ch := healthy(t, f)
	entries := f.waitPeek(t, Filter{}, 10)

	start := time.Now()
	res, err := f.in.Retry(context.Background(), seqsOf(entries), RetryOptions{RatePerSecond: 5})
	if err != nil {
		t.Fatal(err)
	}
	// 10 at 5/s: the first at once, then 9 gaps of 200ms.
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("Retry of 10 at 5/s took %v, want about 1.8s", took)
	}
	if len(res) != 10 {
		t.Errorf("Retry returned %d results, want 10", len(res))
	}
	got := receive(ch, 10, 500*time.Millisecond)
	if len(got) != 10 {
		t.Errorf("healthy consumer got %d messages, want 10: %q", len(got), got)
	}
	if n := f.dlqCount(t); n != 0 {
		t.Errorf("DLQ holds %d messages after Retry, want 0", n)
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter    Filter
		wantN     int
		wantLeft  int
		wantFirst string
	}{
		{Filter{}, 5, 0, ""},
		{Filter{Consumer: "w1"}, 3, 2, "w2-0"},
		{Filter{Consumer: "w2", Limit: 1}, 1, 4, "w1-0"},
		{Filter{Stream: "NOPE"}, 0, 5, "w1-0"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.filter), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			deadLetter(t, f, "w1", 3)
			deadLetter(t, f, "w2", 2)
			n, err := f.in.Purge(context.Background(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantN {
				t.Errorf("Purge(%+v) = %d, want %d", tt.filter, n, tt.wantN)
			}
			left, err := f.in.Peek(context.Background(), Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != tt.wantLeft {
				t.Errorf("after Purge(%+v) %d entries left, want %d", tt.filter, len(left), tt.wantLeft)
			}
			if len(left) > 0 && string(left[0].Data) != tt.wantFirst {
				t.Errorf("first entry left = %q, want %q", left[0].Data, tt.wantFirst)
			}
		})
	}
}

func TestAgentID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    nats.Header
		want string
	}{
		{"agent header", nats.Header{AgentHeader: {"a1"}, events.HeaderSubject: {"agents/a2"}}, "a1"},
		{"events subject", nats.Header{events.HeaderSubject: {"agents/a2"}}, "a2"},
		{"nested events subject", nats.Header{events.HeaderSubject: {"agents/a3/instances/i1"}}, "a3"},
		{"other resource", nats.Header{events.HeaderSubject: {"teams/t1"}}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := agentID(tt.h); got != tt.want {
				t.Errorf("agentID(%v) = %q, want %q", tt.h, got, tt.want)
			}
		})
	}
}

func TestCollectorIgnores(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	self, _ := json.Marshal(advisory{Stream: DefaultStream, Consumer: "c", StreamSeq: 1})
	partial, _ := json.Marshal(advisory{Stream: source})
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"not json", []byte("{"), true},
		{"no consumer or sequence", partial, true},
		{"the dlq's own consumer", self, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.col.handle(context.Background(), AdvisoryMaxDeliveries+".x.y", tt.data)
			if (err != nil) != tt.wantErr {
				t.Errorf("handle(%s) = %v, want error %v", tt.data, err, tt.wantErr)
			}
		})
	}
	if n := f.dlqCount(t); n != 0 {
		t.Errorf("DLQ holds %d messages, want 0", n)
	}
}
