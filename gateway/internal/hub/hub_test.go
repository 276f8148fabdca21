package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/natsserver"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

const testStream = "HUB_TEST"

type fixture struct {
	t   *testing.T
	js  jetstream.JetStream
	hub *Hub
	url string
	n   int
}

// newFixture runs a hub over a stream keeping at most maxMsgs events (0: no
// limit), served by a real HTTP server.
func newFixture(t *testing.T, opts Options, maxMsgs int64) *fixture {
	t.Helper()
	_, js := natsserver.NewTestJetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{events.SubjectPrefix + ">"}, MaxMsgs: maxMsgs}); err != nil {
		t.Fatal(err)
	}
	h := New(js, testStream, logging.Discard(), opts)
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }() //nolint:errcheck
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for !h.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("hub not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &fixture{t: t, js: js, hub: h, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// publish puts an AgentStateChanged for agent id on the stream.
func (f *fixture) publish(id string, padding int) uint64 {
	f.t.Helper()
	f.n++
	ev := &agentsv1.AgentStateChanged{Agent: &agentsv1.Agent{Id: id, Name: "a-" + id, Description: strings.Repeat("x", padding)},
		Transition: &agentsv1.StateTransition{AgentId: id, Sequence: int64(f.n)}}
	b, err := proto.Marshal(ev)
	if err != nil {
		f.t.Fatal(err)
	}
	msg := nats.NewMsg(events.Subject("agents", "state_changed"))
	msg.Header.Set(events.HeaderID, id+"-"+time.Now().Format(time.RFC3339Nano))
	msg.Header.Set(events.HeaderType, string(proto.MessageName(ev)))
	msg.Header.Set(events.HeaderSubject, "agents/"+id)
	msg.Header.Set(events.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Data = b
	ack, err := f.js.PublishMsg(context.Background(), msg)
	if err != nil {
		f.t.Fatal(err)
	}
	return ack.Sequence
}

type testClient struct {
	t    *testing.T
	conn *websocket.Conn
	// pending holds the rest of a batch frame.
	pending []testFrame
}

type testFrame struct {
	Type     string `json:"type"`
	Seq      uint64 `json:"seq"`
	Subject  string `json:"subject"`
	LastSeq  uint64 `json:"lastSeq"`
	FirstSeq uint64 `json:"firstSeq"`
	Message  string `json:"message"`
	Data     struct {
		Agent struct {
			ID string `json:"id"`
		} `json:"agent"`
	} `json:"data"`
}

func (f *fixture) dial(topics []string, since *uint64) *testClient {
	f.t.Helper()
	conn, _, err := websocket.Dial(context.Background(), f.url, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	f.t.Cleanup(func() { conn.CloseNow() })
	c := &testClient{t: f.t, conn: conn}
	req := map[string]any{"type": "subscribe", "topics": topics}
	if since != nil {
		req["since"] = *since
	}
	b, _ := json.Marshal(req)
	if err := conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		f.t.Fatal(err)
	}
	if fr := c.next(); fr.Type != "subscribed" {
		f.t.Fatalf("first frame %+v; want subscribed", fr)
	}
	return c
}

func (c *testClient) next() testFrame {
	c.t.Helper()
	fr, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return fr
}

func (c *testClient) read(d time.Duration) (testFrame, error) {
	if len(c.pending) > 0 {
		fr := c.pending[0]
		c.pending = c.pending[1:]
		return fr, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return testFrame{}, err
	}
	var fr struct {
		testFrame
		Events []testFrame `json:"events"`
	}
	if err := json.Unmarshal(b, &fr); err != nil {
		return testFrame{}, err
	}
	if fr.Type == "batch" {
		if len(fr.Events) < 2 {
			return testFrame{}, fmt.Errorf("batch of %d events", len(fr.Events))
		}
		c.pending = fr.Events[1:]
		return fr.Events[0], nil
	}
	return fr.testFrame, nil
}

func TestFanOutByTopic(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, 0)
	all := f.dial([]string{"agents"}, nil)
	one := f.dial([]string{"agents/x"}, nil)
	both := f.dial([]string{"agents", "agents/x"}, nil)
	star := f.dial([]string{"*", "agents"}, nil)
	other := f.dial([]string{"agents/y"}, nil)

	sx := f.publish("x", 0)
	sy := f.publish("y", 0)
	for name, c := range map[string]*testClient{"agents": all, "both": both, "star": star} {
		if a, b := c.next(), c.next(); a.Seq != sx || b.Seq != sy || a.Data.Agent.ID != "x" {
			t.Errorf("%s got %+v, %+v; want x at %d then y at %d, once each", name, a, b, sx, sy)
		}
	}
	if a := one.next(); a.Seq != sx {
		t.Errorf("agents/x got %+v; want x", a)
	}
	if a := other.next(); a.Seq != sy {
		t.Errorf("agents/y got %+v; want only y", a)
	}
	if got := f.hub.Clients(); got != 5 {
		t.Errorf("Clients() = %d; want 5", got)
	}
}

// TestLaggingClient: a client that stops reading is told it lags and cut off,
// while a reading client gets every event; the cut client resumes from its
// last sequence and loses nothing.
func TestLaggingClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{QueueSize: 16}, 0)
	fast := f.dial([]string{"agents"}, nil)
	slow := f.dial([]string{"agents"}, nil)

	const n = 400
	var received atomic.Int64
	got := make(chan []uint64)
	go func() {
		var seqs []uint64
		for len(seqs) < n {
			fr, err := fast.read(10 * time.Second)
			if err != nil || fr.Type != "event" {
				t.Errorf("reading client: frame %+v, error %v", fr, err)
				break
			}
			seqs = append(seqs, fr.Seq)
			received.Add(1)
		}
		got <- seqs
	}()
	var last uint64
	for i := range n {
		// Publish no faster than the reading client reads, as a healthy
		// browser would keep up; the other one does not read at all.
		for int64(i)-received.Load() > 8 {
			time.Sleep(time.Millisecond)
		}
		last = f.publish("x", 64<<10) // large frames fill the socket buffers
	}
	if seqs := <-got; len(seqs) != n || seqs[n-1] != last {
		t.Fatalf("reading client got %d events; want %d ending at %d", len(seqs), n, last)
	}

	// The slow client now reads what was written before it was cut.
	var seen []uint64
	var lagging *testFrame
	for {
		fr, err := slow.read(5 * time.Second)
		if err != nil {
			if websocket.CloseStatus(err) != StatusLagging {
				t.Fatalf("slow client closed with %v; want status %d", err, StatusLagging)
			}
			break
		}
		if fr.Type == "lagging" {
			lagging = &fr
			continue
		}
		seen = append(seen, fr.Seq)
	}
	if lagging == nil || len(seen) == n {
		t.Fatalf("slow client saw %d events and lagging frame %+v; want to be cut with a lagging frame", len(seen), lagging)
	}
	if len(seen) > 0 && lagging.LastSeq != seen[len(seen)-1] {
		t.Errorf("lagging.lastSeq = %d; last event it got was %d", lagging.LastSeq, seen[len(seen)-1])
	}
	if f.hub.Stats().Lagging.Load() != 1 {
		t.Errorf("lagging count = %d; want 1", f.hub.Stats().Lagging.Load())
	}
	// Resume: everything after lastSeq, in order.
	resumed := f.dial([]string{"agents"}, &lagging.LastSeq)
	for want := lagging.LastSeq + 1; want <= last; want++ {
		if fr := resumed.next(); fr.Seq != want {
			t.Fatalf("resumed event seq %d; want %d", fr.Seq, want)
		}
	}
}

func TestReplayFiltersByTopic(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, 0)
	var xs []uint64
	for i := range 6 {
		id := []string{"x", "y"}[i%2]
		if s := f.publish(id, 0); id == "x" {
			xs = append(xs, s)
		}
	}
	zero := uint64(0)
	c := f.dial([]string{"agents/x"}, &zero)
	for _, want := range xs {
		if fr := c.next(); fr.Seq != want || fr.Data.Agent.ID != "x" {
			t.Fatalf("replayed %+v; want x at %d", fr, want)
		}
	}
	live := f.publish("x", 0)
	if fr := c.next(); fr.Seq != live {
		t.Fatalf("live %+v; want %d", fr, live)
	}
}

func TestResyncWhenNotRetained(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, 10)
	var last uint64
	for range 30 {
		last = f.publish("x", 0)
	}
	// Subscribe once the hub has seen them all, so that every missed event is
	// one the stream no longer keeps.
	for f.hub.Head() < last {
		time.Sleep(5 * time.Millisecond)
	}
	one := uint64(1)
	c := f.dial([]string{"agents"}, &one)
	fr := c.next()
	if fr.Type != "resync" || fr.FirstSeq != 21 {
		t.Fatalf("frame %+v; want resync with firstSeq 21", fr)
	}
	// The client is following live after the resync.
	s := f.publish("x", 0)
	if fr := c.next(); fr.Seq != s {
		t.Fatalf("after resync %+v; want live event %d", fr, s)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{MaxTopics: 2}, 0)
	c := f.dial([]string{"agents"}, nil)
	for _, tc := range []struct{ req, mention string }{
		{`{"type":"subscribe","topics":[]}`, "topics"},
		{`{"type":"subscribe","topics":["Agents/../x y"]}`, "Agents/../x y"},
		{`{"type":"dance"}`, "dance"},
		{`not json`, "malformed"},
		{`{"type":"subscribe","topics":["a","b","c"]}`, "too many topics"},
	} {
		if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		if fr := c.next(); fr.Type != "error" || !strings.Contains(fr.Message, tc.mention) {
			t.Errorf("%s: frame %+v; want an error naming %q", tc.req, fr, tc.mention)
		}
	}
}

// TestFilterByInstanceAndLevel: log lines carry their instance and level in
// headers, and a client's filter lets through only what it asked for, live
// and on replay.
func TestFilterByInstanceAndLevel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, 0)
	publishLog := func(instance, level string) uint64 {
		msg := nats.NewMsg(events.Subject("test", "log")) // the fixture stream holds events subjects
		msg.Header.Set(events.HeaderType, "portal.provisioning.v1.LogLine")
		msg.Header.Set(events.HeaderSubject, "agents/x")
		msg.Header.Set(events.HeaderInstance, instance)
		msg.Header.Set(events.HeaderLevel, level)
		msg.Data = []byte{}
		ack, err := f.js.PublishMsg(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	var want []uint64
	for _, l := range []struct{ in, lv string }{{"0", "info"}, {"1", "info"}, {"1", "warn"}, {"0", "error"}, {"1", "error"}, {"1", "debug"}} {
		if s := publishLog(l.in, l.lv); l.in == "1" && (l.lv == "warn" || l.lv == "error") {
			want = append(want, s)
		}
	}
	zero := uint64(0)
	conn, _, err := websocket.Dial(context.Background(), f.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	c := &testClient{t: t, conn: conn}
	req, _ := json.Marshal(map[string]any{"type": "subscribe", "topics": []string{"agents/x"}, "since": zero,
		"filter": map[string]string{"instance": "1", "minLevel": "warn"}})
	conn.Write(context.Background(), websocket.MessageText, req) //nolint:errcheck
	if fr := c.next(); fr.Type != "subscribed" {
		t.Fatalf("frame %+v; want subscribed", fr)
	}
	for _, s := range want {
		if fr := c.next(); fr.Seq != s {
			t.Fatalf("replayed seq %d; want %d", fr.Seq, s)
		}
	}
	publishLog("0", "error")
	live := publishLog("1", "error")
	if fr := c.next(); fr.Seq != live {
		t.Fatalf("live seq %d; want %d (instance 0 filtered out)", fr.Seq, live)
	}
	bad, _ := json.Marshal(map[string]any{"type": "subscribe", "topics": []string{"agents/x"}, "filter": map[string]string{"minLevel": "loud"}})
	conn.Write(context.Background(), websocket.MessageText, bad) //nolint:errcheck
	if fr := c.next(); fr.Type != "error" || !strings.Contains(fr.Message, "loud") {
		t.Fatalf("frame %+v; want an error naming the level", fr)
	}
}

// TestAccess: the upgrade is refused without credentials, a reader below an
// event's role never sees it (live or replayed), and the connection closes
// when the access ends.
func TestAccess(t *testing.T) {
	t.Parallel()
	var until atomic.Int64
	f := newFixture(t, Options{
		Authorize: func(w http.ResponseWriter, r *http.Request) (Access, bool) {
			switch r.Header.Get("X-Role") {
			case "viewer":
				a := Access{Role: authv1.Role_ROLE_VIEWER}
				if u := until.Load(); u != 0 {
					a.Until = time.Unix(0, u)
				}
				return a, true
			case "admin":
				return Access{Role: authv1.Role_ROLE_ADMIN}, true
			}
			http.Error(w, "no credentials", http.StatusUnauthorized)
			return Access{}, false
		},
		Restricted: func(subject string) authv1.Role {
			if strings.HasPrefix(subject, events.SubjectPrefix+"identity.") {
				return authv1.Role_ROLE_ADMIN
			}
			return authv1.Role_ROLE_VIEWER
		},
	}, 0)
	_, resp, err := websocket.Dial(context.Background(), f.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without credentials: %v, %v; want 401", err, resp)
	}
	dialAs := func(role string, since *uint64) *testClient {
		conn, _, err := websocket.Dial(context.Background(), f.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Role": {role}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.CloseNow() })
		c := &testClient{t: t, conn: conn}
		req := map[string]any{"type": "subscribe", "topics": []string{"*"}}
		if since != nil {
			req["since"] = *since
		}
		b, _ := json.Marshal(req)
		if err := conn.Write(context.Background(), websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
		if fr := c.next(); fr.Type != "subscribed" {
			t.Fatalf("first frame %+v", fr)
		}
		return c
	}
	publishIdentity := func() uint64 {
		msg := nats.NewMsg(events.Subject("identity", "LoggedIn"))
		msg.Header.Set(events.HeaderID, fmt.Sprint(time.Now().UnixNano()))
		msg.Header.Set(events.HeaderSubject, "sessions/x")
		ack, err := f.js.PublishMsg(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	start := f.publish("a0", 0)
	for f.hub.Head() < start { // a0 is behind the clients about to subscribe
		time.Sleep(time.Millisecond)
	}
	viewer, admin := dialAs("viewer", nil), dialAs("admin", nil)
	idSeq := publishIdentity()
	agentSeq := f.publish("a1", 0)
	if fr := viewer.next(); fr.Seq != agentSeq {
		t.Fatalf("viewer got seq %d (%s); want only the agent event %d", fr.Seq, fr.Subject, agentSeq)
	}
	if fr := admin.next(); fr.Seq != idSeq {
		t.Fatalf("admin got seq %d; want the identity event %d", fr.Seq, idSeq)
	}
	replayed := dialAs("viewer", &start)
	if fr := replayed.next(); fr.Seq != agentSeq {
		t.Fatalf("replay to a viewer gave seq %d; want only %d", fr.Seq, agentSeq)
	}

	until.Store(time.Now().Add(300 * time.Millisecond).UnixNano())
	ending := dialAs("viewer", nil)
	_, err = ending.read(3 * time.Second)
	if websocket.CloseStatus(err) != StatusAccessEnded {
		t.Fatalf("at the end of access: %v; want close status %d", err, StatusAccessEnded)
	}
}

func TestRecent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{Restricted: func(subject string) authv1.Role {
		if strings.HasPrefix(subject, events.SubjectPrefix+"identity.") {
			return authv1.Role_ROLE_ADMIN
		}
		return authv1.Role_ROLE_VIEWER
	}}, 0)
	ctx := context.Background()
	if res, err := f.hub.Recent(ctx, authv1.Role_ROLE_VIEWER, "*", 10); err != nil || len(res.Events) != 0 {
		t.Fatalf("empty stream: %d events, %v", len(res.Events), err)
	}
	var last uint64
	for i := range 8 {
		last = f.publish([]string{"x", "y"}[i%2], 0)
	}
	msg := nats.NewMsg(events.Subject("identity", "LoggedIn"))
	msg.Header.Set(events.HeaderID, "login-1")
	msg.Header.Set(events.HeaderSubject, "sessions/s1")
	ack, err := f.js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	for f.hub.Head() < ack.Sequence {
		time.Sleep(time.Millisecond)
	}
	seqs := func(role authv1.Role, topic string, limit int) []uint64 {
		t.Helper()
		res, err := f.hub.Recent(ctx, role, topic, limit)
		if err != nil {
			t.Fatalf("Recent(%s, %d): %v", topic, limit, err)
		}
		if res.Seq != ack.Sequence {
			t.Fatalf("Recent seq %d; want the head %d", res.Seq, ack.Sequence)
		}
		var out []uint64
		for _, e := range res.Events {
			var fr testFrame
			if err := json.Unmarshal(e, &fr); err != nil || fr.Type != "event" {
				t.Fatalf("event %s: %v", e, err)
			}
			out = append(out, fr.Seq)
		}
		return out
	}
	if got := seqs(authv1.Role_ROLE_VIEWER, "*", 100); len(got) != 8 || got[7] != last {
		t.Errorf("viewer, all: %v; want the 8 agent events ending %d, no identity event", got, last)
	}
	if got := seqs(authv1.Role_ROLE_ADMIN, "*", 100); len(got) != 9 || got[8] != ack.Sequence {
		t.Errorf("admin, all: %v; want 9 ending with the login", got)
	}
	if got := seqs(authv1.Role_ROLE_VIEWER, "agents/y", 2); len(got) != 2 || got[1] != last {
		t.Errorf("agents/y limit 2: %v; want the last two of y, ending %d", got, last)
	}
	for _, tc := range []struct {
		topic string
		limit int
	}{{"bad topic!", 10}, {"*", 0}, {"*", RecentMax + 1}} {
		var bad *BadRequest
		if _, err := f.hub.Recent(ctx, authv1.Role_ROLE_ADMIN, tc.topic, tc.limit); !errors.As(err, &bad) {
			t.Errorf("Recent(%q, %d): %v; want a BadRequest", tc.topic, tc.limit, err)
		}
	}
}

// TestRecentReadsBackAsFarAsNeeded: a topic whose events are older than the
// first steps back from the head is still found, oldest first.
func TestRecentReadsBackAsFarAsNeeded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, 0)
	var xs []uint64
	for range 3 {
		xs = append(xs, f.publish("x", 0))
	}
	var last uint64
	for range 40 {
		last = f.publish("y", 0)
	}
	for f.hub.Head() < last {
		time.Sleep(time.Millisecond)
	}
	res, err := f.hub.Recent(context.Background(), authv1.Role_ROLE_VIEWER, "agents/x", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, e := range res.Events {
		var fr testFrame
		if err := json.Unmarshal(e, &fr); err != nil {
			t.Fatal(err)
		}
		got = append(got, fr.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(xs) {
		t.Errorf("agents/x behind 40 other events: %v; want %v", got, xs)
	}
	// A busy topic: the last two only, however many there are.
	res, err = f.hub.Recent(context.Background(), authv1.Role_ROLE_VIEWER, "agents/y", 2)
	if err != nil || len(res.Events) != 2 {
		t.Fatalf("agents/y limit 2: %d events, %v", len(res.Events), err)
	}
}
