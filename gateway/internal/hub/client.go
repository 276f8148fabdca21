package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// StatusLagging closes the connection of a client that fell too far behind.
const StatusLagging websocket.StatusCode = 4008

// StatusAccessEnded closes the connection of a client whose session ended or
// whose access changed (a grant ran out): it reconnects, and logs in again if
// it must.
const StatusAccessEnded websocket.StatusCode = 4001

const (
	maxBatch      = 64
	maxBatchBytes = 64 << 10 // a batch stops growing past this size
	writeTimeout  = 10 * time.Second
	pingInterval  = 20 * time.Second
	watchInterval = 2 * time.Second
	readLimit     = 64 << 10
	// sessionCheckInterval is how often a connection's session is checked, so
	// a logout or an expiry closes its connections within that time.
	sessionCheckInterval = 5 * time.Second
)

type client struct {
	queue chan *frame
	kick  chan struct{}
	// writeStart is when the current write began (Unix ns), 0 when idle.
	writeStart atomic.Int64
	access     Access

	// Guarded by Hub.mu.
	topics    map[string]bool
	filter    filter
	lagging   bool
	replaying bool
	pending   []*frame
}

type request struct {
	Type   string   `json:"type"`
	Topics []string `json:"topics"`
	Since  *uint64  `json:"since"`
	// Filter narrows the connection's frames: {"instance":"0","minLevel":"warn"}
	// on the log stream. It replaces any earlier one.
	Filter *filter `json:"filter"`
}

type control struct {
	Type     string   `json:"type"`
	Topics   []string `json:"topics,omitempty"`
	Seq      *uint64  `json:"seq,omitempty"`
	FirstSeq uint64   `json:"firstSeq,omitempty"`
	LastSeq  *uint64  `json:"lastSeq,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Message  string   `json:"message,omitempty"`
}

// ServeHTTP upgrades to a WebSocket and serves one client. The Origin must be
// the page's own host (or match OriginPatterns), so other sites cannot read a
// user's events through their browser.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.Ready() {
		http.Error(w, "event stream not ready", http.StatusServiceUnavailable)
		return
	}
	access := Access{Role: authv1.Role_ROLE_ADMIN}
	if h.opts.Authorize != nil {
		a, ok := h.opts.Authorize(w, r)
		if !ok {
			return
		}
		access = a
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.opts.OriginPatterns})
	if err != nil {
		return // Accept has written the response
	}
	conn.SetReadLimit(readLimit)
	c := &client{queue: make(chan *frame, h.opts.QueueSize), kick: make(chan struct{}), topics: map[string]bool{},
		filter: filter{role: access.Role}, access: access}
	h.register(c)
	defer h.unregister(c)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		h.write(ctx, conn, c)
		cancel()
	}()
	go func() {
		defer wg.Done()
		h.watch(ctx, conn, c)
		cancel()
	}()
	err = h.read(ctx, conn, c)
	cancel()
	wg.Wait()
	switch {
	case errors.Is(err, context.Canceled):
		conn.Close(websocket.StatusNormalClosure, "")
	case websocket.CloseStatus(err) != -1:
		// The client closed.
	default:
		h.logger.Debug("websocket client ended", "error", err)
		conn.Close(websocket.StatusPolicyViolation, truncate(err.Error(), 120))
	}
}

// write sends queued events until ctx ends or the client is kicked for
// lagging. Writes carry no context of their own: arming a timer per frame
// costs more than the write on a busy hub, so watch cuts stuck writes instead.
func (h *Hub) write(ctx context.Context, conn *websocket.Conn, c *client) {
	var (
		last  uint64
		batch []*frame
		buf   []byte
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			c.writeStart.Store(time.Now().UnixNano())
			h.send(ctx, conn, control{Type: "lagging", LastSeq: &last,
				Reason: "too far behind; reconnect and subscribe with since = lastSeq"})
			conn.Close(StatusLagging, "lagging")
			return
		case f := <-c.queue:
			// Events that queued up while the last write was under way go
			// out together in one frame: a burst costs one write, not many.
			batch := append(batch[:0], f)
			size := len(f.data)
		more:
			for len(batch) < maxBatch && size < maxBatchBytes {
				select {
				case g := <-c.queue:
					batch = append(batch, g)
					size += len(g.data)
				default:
					break more
				}
			}
			data := f.data
			if len(batch) > 1 {
				data = encodeBatch(buf[:0], batch)
				buf = data
			}
			c.writeStart.Store(time.Now().UnixNano())
			err := conn.Write(context.Background(), websocket.MessageText, data)
			c.writeStart.Store(0)
			if err != nil {
				return
			}
			last = batch[len(batch)-1].seq
		}
	}
}

// watch pings the client now and then, and closes the connection when a
// write has been stuck for longer than writeTimeout (a client that stopped
// reading), which also ends the blocked write.
func (h *Hub) watch(ctx context.Context, conn *websocket.Conn, c *client) {
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	lastPing, lastCheck := time.Now(), time.Now()
	var until <-chan time.Time
	if !c.access.Until.IsZero() {
		t := time.NewTimer(time.Until(c.access.Until))
		defer t.Stop()
		until = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-until:
			conn.Close(StatusAccessEnded, "access ended (session or grant expired); reconnect") //nolint:errcheck
			return
		case now := <-tick.C:
			if s := c.writeStart.Load(); s != 0 && now.Sub(time.Unix(0, s)) > writeTimeout {
				conn.CloseNow() //nolint:errcheck
				return
			}
			if c.access.Active != nil && now.Sub(lastCheck) >= sessionCheckInterval {
				lastCheck = now
				if !c.access.Active(ctx) {
					conn.Close(StatusAccessEnded, "session ended; log in again") //nolint:errcheck
					return
				}
			}
			if now.Sub(lastPing) >= pingInterval {
				lastPing = now
				pctx, cancel := context.WithTimeout(ctx, writeTimeout)
				err := conn.Ping(pctx)
				cancel()
				if err != nil {
					conn.CloseNow() //nolint:errcheck
					return
				}
			}
		}
	}
}

// read handles the client's requests until it disconnects.
func (h *Hub) read(ctx context.Context, conn *websocket.Conn, c *client) error {
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			h.send(ctx, conn, control{Type: "error", Message: "send JSON text frames"})
			continue
		}
		var req request
		if err := json.Unmarshal(b, &req); err != nil {
			h.send(ctx, conn, control{Type: "error", Message: "malformed request: " + err.Error()})
			continue
		}
		switch req.Type {
		case "ping":
			h.send(ctx, conn, control{Type: "pong"})
		case "subscribe":
			if msg := checkTopics(req.Topics); msg != "" {
				h.send(ctx, conn, control{Type: "error", Message: msg})
				continue
			}
			if req.Filter != nil {
				if _, ok := levelRank[req.Filter.MinLevel]; req.Filter.MinLevel != "" && !ok {
					h.send(ctx, conn, control{Type: "error", Message: fmt.Sprintf("filter.minLevel: %q is not debug, info, warn or error", truncate(req.Filter.MinLevel, 20))})
					continue
				}
				if len(req.Filter.Instance) > 128 {
					h.send(ctx, conn, control{Type: "error", Message: "filter.instance: longer than 128 characters"})
					continue
				}
				h.setFilter(c, *req.Filter)
			}
			h.handleSubscribe(ctx, conn, c, req)
		case "unsubscribe":
			if msg := checkTopics(req.Topics); msg != "" {
				h.send(ctx, conn, control{Type: "error", Message: msg})
				continue
			}
			h.unsubscribe(c, req.Topics)
			h.send(ctx, conn, control{Type: "unsubscribed", Topics: req.Topics})
		default:
			h.send(ctx, conn, control{Type: "error", Message: fmt.Sprintf("unknown request type %q: want subscribe, unsubscribe or ping", req.Type)})
		}
	}
}

func (h *Hub) handleSubscribe(ctx context.Context, conn *websocket.Conn, c *client, req request) {
	head, err := h.subscribe(c, req.Topics, req.Since)
	if err != nil {
		h.send(ctx, conn, control{Type: "error", Message: err.Error()})
		return
	}
	h.send(ctx, conn, control{Type: "subscribed", Topics: req.Topics, Seq: &head})
	if req.Since == nil || *req.Since == head {
		return
	}
	if *req.Since > head {
		h.send(ctx, conn, control{Type: "resync", Topics: req.Topics,
			Reason: fmt.Sprintf("sequence %d is ahead of the stream (head %d): the stream was reset", *req.Since, head)})
		return
	}
	// Live events for these topics wait in c.pending while the missed ones are
	// written, so the client sees them all, in order.
	defer h.endReplay(c)
	frames, err := h.replay(ctx, req.Topics, h.filterOf(c), *req.Since, head)
	var rs *errResync
	if errors.As(err, &rs) {
		h.send(ctx, conn, control{Type: "resync", Topics: req.Topics, FirstSeq: rs.firstSeq, Reason: rs.reason})
		return
	}
	if err != nil {
		h.logger.Warn("websocket replay failed", "error", err)
		h.send(ctx, conn, control{Type: "resync", Topics: req.Topics, Reason: "replay failed; re-read and follow again"})
		return
	}
	for _, f := range frames {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := conn.Write(wctx, websocket.MessageText, f.data)
		cancel()
		if err != nil {
			return
		}
	}
}

func (h *Hub) send(ctx context.Context, conn *websocket.Conn, m control) {
	b, _ := json.Marshal(m) // a plain struct always marshals
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	_ = conn.Write(wctx, websocket.MessageText, b) // a failed write ends the read loop too
}

func checkTopics(topics []string) string {
	if len(topics) == 0 {
		return "topics: name at least one topic, e.g. \"agents\" or \"agents/<id>\""
	}
	for _, t := range topics {
		if !topicPattern.MatchString(t) {
			return fmt.Sprintf("topics: %q is not a topic; want \"*\", \"<collection>\" or \"<collection>/<id>\"", truncate(t, 80))
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (h *Hub) setFilter(c *client, f filter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.role = c.filter.role
	c.filter = f
}

func (h *Hub) filterOf(c *client) filter {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.filter
}

var (
	batchOpen  = []byte(`{"type":"batch","events":[`)
	batchClose = []byte(`]}`)
)

// encodeBatch joins already-encoded events into one batch frame.
func encodeBatch(dst []byte, fs []*frame) []byte {
	dst = append(dst, batchOpen...)
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.data...)
	}
	return append(dst, batchClose...)
}
