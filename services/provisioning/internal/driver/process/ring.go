package process

import (
	"slices"
	"strings"
	"sync"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// ring keeps the last n lines of an instance.
type ring struct {
	mu   sync.Mutex
	buf  []driver.LogLine
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]driver.LogLine, n)} }

func (r *ring) add(l driver.LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = l
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// lines returns the kept lines, oldest first.
func (r *ring) lines() []driver.LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return slices.Clone(r.buf[:r.next])
	}
	return append(slices.Clone(r.buf[r.next:]), r.buf[:r.next]...)
}

// tail joins the last n lines' messages, for failure explanations.
func (r *ring) tail(n int) string {
	ls := r.lines()
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	msgs := make([]string, len(ls))
	for i, l := range ls {
		msgs[i] = l.Message
	}
	return strings.Join(msgs, "\n")
}
