package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
)

// Recent-events limits: a page asks for the last events of a topic to show
// before it follows the stream live. The scan reads back from the head and
// stops at recentWindow stream messages, so a rare topic may return fewer
// than asked.
const (
	RecentDefault = 200
	RecentMax     = 1000
	recentWindow  = 5000
)

// RecentEvents is the answer to GET /api/v1/events:recent.
type RecentEvents struct {
	// Events are the newest matching events, oldest first, as the stream
	// sends them (type "event").
	Events []json.RawMessage `json:"events"`
	// Seq is the stream head the events were read up to: events after it
	// arrive on the WebSocket.
	Seq uint64 `json:"seq"`
}

// Recent returns up to limit of the newest events of topic that a reader
// with role may see, read from the stream's last recentWindow messages.
func (h *Hub) Recent(ctx context.Context, role authv1.Role, topic string, limit int) (RecentEvents, error) {
	out := RecentEvents{Events: []json.RawMessage{}}
	if msg := checkTopics([]string{topic}); msg != "" {
		return out, &BadRequest{msg}
	}
	if limit <= 0 || limit > RecentMax {
		return out, &BadRequest{fmt.Sprintf("limit: %d is not between 1 and %d", limit, RecentMax)}
	}
	head := h.Head()
	out.Seq = head
	if head == 0 {
		return out, nil
	}
	info, err := h.streamInfo(ctx)
	if err != nil {
		return out, err
	}
	first := info.State.FirstSeq
	if first == 0 {
		first = 1
	}
	// Read backwards from the head in growing steps, so a page asking for
	// the last 200 events of a busy topic decodes a few hundred messages,
	// not the whole window; a rare topic reads further, up to recentWindow.
	// floor: the last sequence not to read (the window's start, or before
	// the oldest retained message).
	floor := first - 1
	if window := uint64(min(recentWindow, h.opts.MaxReplay)); head > window {
		floor = max(floor, head-window)
	}
	var frames []*frame
	for end, step := head, uint64(2*limit); end > floor && len(frames) < limit; step *= 2 {
		since := floor
		if end-floor > step {
			since = end - step
		}
		chunk, err := h.replay(ctx, []string{topic}, filter{role: role}, since, end)
		var rs *errResync
		if errors.As(err, &rs) {
			break // retention moved on meanwhile: what was read is the newest
		}
		if err != nil {
			return out, err
		}
		frames = append(chunk, frames...)
		end = since
	}
	if len(frames) > limit {
		frames = frames[len(frames)-limit:]
	}
	for _, f := range frames {
		out.Events = append(out.Events, f.data)
	}
	return out, nil
}

// BadRequest is a request the caller must change.
type BadRequest struct{ msg string }

func (e *BadRequest) Error() string { return e.msg }

// RecentHandler serves GET /api/v1/events:recent?topic=<topic>&limit=<n>
// for readers whose role roleOf finds in the request (after authentication).
func (h *Hub) RecentHandler(roleOf func(*http.Request) authv1.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		topic := q.Get("topic")
		if topic == "" {
			topic = "*"
		}
		limit := RecentDefault
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, 3, fmt.Sprintf("limit: %q is not a number", truncate(s, 20)))
				return
			}
			limit = n
		}
		res, err := h.Recent(r.Context(), roleOf(r), topic, limit)
		var bad *BadRequest
		switch {
		case errors.As(err, &bad):
			writeError(w, http.StatusBadRequest, 3, bad.msg)
			return
		case err != nil:
			h.logger.WarnContext(r.Context(), "recent events", "error", err)
			writeError(w, http.StatusServiceUnavailable, 14, "the event stream cannot be read now; try again")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(res) //nolint:errcheck // the client went away
	})
}

// writeError answers in the REST API's error shape (google.rpc.Status).
func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg}) //nolint:errcheck
}
