package probe

// ring keeps the last len(buf) results; older ones are overwritten.
type ring struct {
	buf  []Result
	next int // where the next result goes
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]Result, n)} }

func (r *ring) add(res Result) {
	if len(r.buf) == 0 {
		return
	}
	r.buf[r.next] = res
	r.next++
	if r.next == len(r.buf) {
		r.next = 0
		r.full = true
	}
}

// list returns a copy, oldest first.
func (r *ring) list() []Result {
	if !r.full {
		return append([]Result(nil), r.buf[:r.next]...)
	}
	out := make([]Result, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}
