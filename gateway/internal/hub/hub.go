// Package hub fans the platform's events out to WebSocket clients.
//
// One ordered JetStream consumer per gateway process reads the event stream;
// each event is encoded to JSON once and handed to every client subscribed to
// one of its topics, through a bounded per-client queue. A client that falls
// too far behind is told ("lagging") and disconnected rather than slowing the
// others; it reconnects with the last sequence it saw and gets what it missed
// from the stream, as a Kubernetes watch resumes from a resourceVersion. When
// that sequence is no longer retained, the client is told to "resync": re-read
// over REST, then follow again.
//
// Protocol (JSON text frames):
//
//	client: {"type":"subscribe","topics":["agents"],"since":41}   since is optional
//	client: {"type":"subscribe","topics":["agents/<id>"],"filter":{"instance":"0","minLevel":"warn"}}
//	        (filter: on the log stream, by the lines' instance and level)
//	client: {"type":"unsubscribe","topics":["agents/<id>"]}
//	client: {"type":"ping"}
//	server: {"type":"subscribed","topics":[...],"seq":57}          seq: the stream head
//	server: {"type":"event","seq":58,"id":"...","eventType":"portal.agents.v1.AgentStateChanged",
//	         "subject":"agents/<id>","time":"...","data":{...}}
//	server: {"type":"batch","events":[{event},{event},...]}          events that queued up, in order
//	server: {"type":"resync","topics":[...],"firstSeq":90,"reason":"..."}
//	server: {"type":"lagging","lastSeq":58}  then close 4008
//	server: {"type":"error","message":"..."}
//	server: {"type":"pong"}
//
// Topics: "*" (everything), "<collection>" (e.g. "agents": every agent's
// events) and "<collection>/<id>" (one resource).
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/platformportal/portal/platform/events"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// Options tune a Hub.
type Options struct {
	// QueueSize is how many events may wait for one client before it is
	// disconnected as lagging (default 512).
	QueueSize int
	// MaxReplay is the most events a reconnecting client is replayed; further
	// behind, it is told to resync (default 10000).
	MaxReplay int
	// MaxTopics bounds one client's subscriptions (default 256).
	MaxTopics int
	// OriginPatterns are extra origins allowed to connect (host patterns, as in
	// coder/websocket); the page's own origin always is.
	OriginPatterns []string
	// Authorize decides at upgrade what a client may read; when it returns
	// false it has answered the request itself (401, 403, 503). Nil lets
	// everyone read everything (the hub's own tests).
	Authorize func(w http.ResponseWriter, r *http.Request) (Access, bool)
	// Restricted gives the least role that may read an event, by its NATS
	// subject; nil means any reader may.
	Restricted func(subject string) authv1.Role
}

// Access is what one client may read, decided when it connects.
type Access struct {
	// Role is the reader's role; events restricted above it are not sent.
	Role authv1.Role
	// Until, when set, is when the access ends (a grant's or a session's
	// end): the connection is closed then, and the client reconnects with
	// what it has now.
	Until time.Time
	// Active, when set, is asked now and then whether the session behind the
	// connection still holds; when it does not, the connection is closed.
	Active func(ctx context.Context) bool
}

// Hub is the in-memory fan-out.
type Hub struct {
	js     jetstream.JetStream
	stream string
	logger *slog.Logger
	opts   Options

	mu      sync.Mutex
	byTopic map[string]map[*client]struct{}
	head    uint64 // last stream sequence fanned out
	clients int

	running atomic.Bool
	stats   Stats
}

// Stats are the hub's counters, for metrics and tests.
type Stats struct {
	Events  atomic.Uint64
	Frames  atomic.Uint64
	Lagging atomic.Uint64
	Replays atomic.Uint64
}

// New returns a hub reading stream through js.
func New(js jetstream.JetStream, stream string, logger *slog.Logger, opts Options) *Hub {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 512
	}
	if opts.MaxReplay <= 0 {
		opts.MaxReplay = 10000
	}
	if opts.MaxTopics <= 0 {
		opts.MaxTopics = 256
	}
	h := &Hub{js: js, stream: stream, logger: logger, opts: opts, byTopic: map[string]map[*client]struct{}{}}
	h.registerMetrics()
	return h
}

// registerMetrics exports the counters on the binary's /metrics, labelled
// with the stream, so that lagging clients and replays are visible.
func (h *Hub) registerMetrics() {
	m := otel.Meter("github.com/platformportal/portal/gateway/internal/hub")
	attrs := metric.WithAttributes(attribute.String("stream", h.stream))
	counters := []struct {
		name, desc string
		v          *atomic.Uint64
	}{
		{"portal_ws_events_total", "Events the hub read from its stream", &h.stats.Events},
		{"portal_ws_frames_total", "Events queued to WebSocket clients", &h.stats.Frames},
		{"portal_ws_lagging_total", "WebSocket clients cut off for falling behind", &h.stats.Lagging},
		{"portal_ws_replays_total", "Reconnections served from the stream", &h.stats.Replays},
	}
	for _, c := range counters {
		_, err := m.Int64ObservableCounter(c.name, metric.WithDescription(c.desc),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				o.Observe(int64(c.v.Load()), attrs)
				return nil
			}))
		if err != nil {
			h.logger.Warn("hub metric not registered", "metric", c.name, "error", err)
		}
	}
	_, err := m.Int64ObservableGauge("portal_ws_clients", metric.WithDescription("Connected WebSocket clients"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(h.Clients()), attrs)
			return nil
		}))
	if err != nil {
		h.logger.Warn("hub metric not registered", "metric", "portal_ws_clients", "error", err)
	}
}

// Ready reports whether the hub is following the stream.
func (h *Hub) Ready() bool { return h.running.Load() }

// Head returns the last stream sequence the hub has fanned out.
func (h *Hub) Head() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.head
}

// Stats returns the hub's counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// Clients returns how many clients are connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clients
}

// Run follows the stream from its current end until ctx ends, re-creating
// the consumer if it fails.
func (h *Hub) Run(ctx context.Context) error {
	defer h.running.Store(false)
	for ctx.Err() == nil {
		err := h.follow(ctx)
		h.running.Store(false)
		if ctx.Err() != nil {
			break
		}
		h.logger.Warn("event hub consumer stopped; restarting", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

func (h *Hub) follow(ctx context.Context) error {
	h.mu.Lock()
	start := h.head + 1
	h.mu.Unlock()
	if start == 1 {
		info, err := h.streamInfo(ctx)
		if err != nil {
			return err
		}
		start = info.State.LastSeq + 1
		h.mu.Lock()
		h.head = info.State.LastSeq
		h.mu.Unlock()
	}
	cons, err := h.js.OrderedConsumer(ctx, h.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   start,
	})
	if err != nil {
		return fmt.Errorf("ordered consumer on %s: %w", h.stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", h.stream, err)
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()
	h.running.Store(true)
	h.logger.Info("event hub following stream", "stream", h.stream, "from_seq", start)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("next event: %w", err)
		}
		f, err := h.encode(msg)
		if err != nil {
			h.logger.Warn("event not fanned out", "error", err)
			continue
		}
		h.fanOut(f)
	}
}

func (h *Hub) streamInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	s, err := h.js.Stream(ctx, h.stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", h.stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s info: %w", h.stream, err)
	}
	return info, nil
}

// frame is one encoded event with what routing needs.
type frame struct {
	seq    uint64
	topics [3]string // "*", collection, collection/id
	data   []byte
	// instance and level come from the log stream's headers, for filters.
	instance, level string
	// minRole is the least role that may read the frame.
	minRole authv1.Role
}

type eventJSON struct {
	Type      string          `json:"type"`
	Seq       uint64          `json:"seq"`
	ID        string          `json:"id"`
	EventType string          `json:"eventType"`
	Source    string          `json:"source"`
	Subject   string          `json:"subject"`
	Time      string          `json:"time"`
	Data      json.RawMessage `json:"data,omitempty"`
}

var marshalOpts = protojson.MarshalOptions{EmitUnpopulated: true}

// encode turns a stream message into a frame, decoding the protobuf payload by
// the type named in its header.
func (h *Hub) encode(msg jetstream.Msg) (*frame, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("event metadata: %w", err)
	}
	hd := msg.Headers()
	ev := eventJSON{
		Type: "event", Seq: meta.Sequence.Stream, ID: hd.Get(events.HeaderID), EventType: hd.Get(events.HeaderType),
		Source: hd.Get(events.HeaderSource), Subject: hd.Get(events.HeaderSubject), Time: hd.Get(events.HeaderTime),
	}
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(ev.EventType)); err == nil {
		m := mt.New().Interface()
		if err := proto.Unmarshal(msg.Data(), m); err != nil {
			return nil, fmt.Errorf("event %s (%s): %w", ev.ID, ev.EventType, err)
		}
		if ev.Data, err = marshalOpts.Marshal(m); err != nil {
			return nil, fmt.Errorf("event %s (%s) to JSON: %w", ev.ID, ev.EventType, err)
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	f := &frame{seq: ev.Seq, data: b, instance: hd.Get(events.HeaderInstance), level: hd.Get(events.HeaderLevel)}
	if h.opts.Restricted != nil {
		f.minRole = h.opts.Restricted(msg.Subject())
	}
	f.topics[0] = "*"
	coll, _, _ := strings.Cut(ev.Subject, "/")
	f.topics[1], f.topics[2] = coll, ev.Subject
	return f, nil
}

func (h *Hub) fanOut(f *frame) {
	h.stats.Events.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.head = f.seq
	all, coll := h.byTopic[f.topics[0]], h.byTopic[f.topics[1]]
	var one map[*client]struct{}
	if f.topics[2] != f.topics[1] {
		one = h.byTopic[f.topics[2]]
	}
	// A client subscribed to several of the event's topics gets it once.
	for c := range all {
		h.deliverLocked(c, f)
	}
	for c := range coll {
		if _, dup := all[c]; !dup {
			h.deliverLocked(c, f)
		}
	}
	for c := range one {
		_, dup1 := all[c]
		_, dup2 := coll[c]
		if !dup1 && !dup2 {
			h.deliverLocked(c, f)
		}
	}
}

// deliverLocked queues f for c without blocking; a full queue means c is
// lagging. Called with h.mu held.
func (h *Hub) deliverLocked(c *client, f *frame) {
	if !c.filter.match(f) {
		return
	}
	if c.replaying {
		if len(c.pending) >= h.opts.QueueSize {
			h.kickLocked(c)
			return
		}
		c.pending = append(c.pending, f)
		return
	}
	select {
	case c.queue <- f:
		h.stats.Frames.Add(1)
	default:
		h.kickLocked(c)
	}
}

func (h *Hub) kickLocked(c *client) {
	if !c.lagging {
		c.lagging = true
		h.stats.Lagging.Add(1)
		close(c.kick)
	}
}

var topicPattern = regexp.MustCompile(`^(\*|[a-zA-Z][a-zA-Z0-9_-]{0,62}(/[A-Za-z0-9._-]{1,128})?)$`)

// ErrTooManyTopics is returned when a client subscribes past the limit.
var ErrTooManyTopics = errors.New("too many topics")

// subscribe adds topics for c and returns the stream head at that moment:
// every later event is delivered live. When since is below the head, c is
// put in replay mode (live events wait in c.pending) until endReplay.
func (h *Hub) subscribe(c *client, topics []string, since *uint64) (uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(c.topics)+len(topics) > h.opts.MaxTopics {
		return 0, fmt.Errorf("%w: at most %d per connection", ErrTooManyTopics, h.opts.MaxTopics)
	}
	for _, t := range topics {
		if c.topics[t] {
			continue
		}
		c.topics[t] = true
		set := h.byTopic[t]
		if set == nil {
			set = map[*client]struct{}{}
			h.byTopic[t] = set
		}
		set[c] = struct{}{}
	}
	if since != nil && *since < h.head {
		c.replaying = true
	}
	return h.head, nil
}

// endReplay delivers what arrived during a replay and returns c to live mode.
func (h *Hub) endReplay(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.replaying = false
	pending := c.pending
	c.pending = nil
	for _, f := range pending {
		h.deliverLocked(c, f)
	}
}

func (h *Hub) unsubscribe(c *client, topics []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		delete(c.topics, t)
		if set := h.byTopic[t]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.byTopic, t)
			}
		}
	}
}

func (h *Hub) register(c *client) {
	h.mu.Lock()
	h.clients++
	h.mu.Unlock()
}

func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients--
	for t := range c.topics {
		if set := h.byTopic[t]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.byTopic, t)
			}
		}
	}
	c.topics = nil
}

// errResync says the requested sequence is no longer retained.
type errResync struct {
	firstSeq uint64
	reason   string
}

func (e *errResync) Error() string { return e.reason }

// replay returns the events after since up to head that match topics, read
// from the stream with a short-lived ordered consumer.
func (h *Hub) replay(ctx context.Context, topics []string, filter filter, since, head uint64) ([]*frame, error) {
	if head-since > uint64(h.opts.MaxReplay) {
		return nil, &errResync{reason: fmt.Sprintf("%d events were missed; more than the %d replayed", head-since, h.opts.MaxReplay)}
	}
	info, err := h.streamInfo(ctx)
	if err != nil {
		return nil, err
	}
	if since+1 < info.State.FirstSeq {
		return nil, &errResync{firstSeq: info.State.FirstSeq,
			reason: fmt.Sprintf("sequence %d is no longer retained (oldest is %d)", since+1, info.State.FirstSeq)}
	}
	h.stats.Replays.Add(1)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := h.js.OrderedConsumer(ctx, h.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   since + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("replay consumer: %w", err)
	}
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	var out []*frame
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("replay fetch: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			f, err := h.encode(msg)
			if err != nil {
				continue
			}
			if f.seq > head {
				return out, nil
			}
			if (want[f.topics[0]] || want[f.topics[1]] || want[f.topics[2]]) && filter.match(f) {
				out = append(out, f)
			}
			if f.seq == head {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("replay fetch: %w", err)
		}
		if n == 0 {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("replay: %w", ctx.Err())
			}
			// Retention may have dropped the tail; what there was is all there is.
			return out, nil
		}
	}
}

// filter narrows what a client receives by the frames' attributes (log lines'
// instance and level); the zero filter lets everything through.
type filter struct {
	Instance string `json:"instance"`
	MinLevel string `json:"minLevel"`
	// role is the reader's, set at connection; a client cannot change it.
	role authv1.Role
}

var levelRank = map[string]int{"debug": 0, "info": 1, "warn": 2, "error": 3}

func (f filter) match(fr *frame) bool {
	if fr.minRole > f.role {
		return false
	}
	if f.Instance != "" && fr.instance != f.Instance {
		return false
	}
	if f.MinLevel != "" && levelRank[fr.level] < levelRank[f.MinLevel] {
		return false
	}
	return true
}
