package probe

import "time"

// schedule is a min-heap of targets by next run time: one timer serves every
// target, so 1,000 idle targets cost no goroutines.
type schedule []*entry

func (h schedule) Len() int           { return len(h) }
func (h schedule) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h schedule) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *schedule) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *schedule) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*h = old[:n-1]
	return e
}

// peek returns the earliest entry's time, or false when empty.
func (h schedule) peek() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[0].next, true
}
