package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/platformportal/portal/platform/errs"
)

// MaxExportRange bounds an export's time range.
const MaxExportRange = 366 * 24 * time.Hour

// Service carries out the audit log's reads.
type Service struct {
	store Store
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

// Get returns one entry.
func (s *Service) Get(ctx context.Context, seq int64) (*Entry, error) {
	return s.store.Get(ctx, seq)
}

// Search returns a page of matching entries and whether more follow.
func (s *Service) Search(ctx context.Context, f Filter, p Page) ([]*Entry, bool, error) {
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		return nil, false, errs.InvalidField("end_time", "must be after start_time")
	}
	want := p.Limit
	p.Limit++
	es, err := s.store.Search(ctx, f, p)
	if err != nil {
		return nil, false, err
	}
	if len(es) > want {
		return es[:want], true, nil
	}
	return es, false, nil
}

// Verify checks the chain from entry from to entry to (0: the first and the
// last).
func (s *Service) Verify(ctx context.Context, from, to int64) (Verification, error) {
	if to != 0 && to < from {
		return Verification{}, errs.InvalidField("end_seq", "must not be before start_seq")
	}
	if from < 1 {
		from = 1
	}
	var v *Verifier
	err := s.walkAnchored(ctx, from, to, func(anchor *Entry) { v = NewVerifier(from, anchor) }, func(e *Entry) error {
		v.Check(e)
		return nil
	})
	if err != nil {
		return Verification{}, err
	}
	return v.Result(), nil
}

// CheckExportRange validates an export's time range.
func CheckExportRange(start, end time.Time) error {
	switch {
	case start.IsZero():
		return errs.InvalidField("start_time", "is required")
	case end.IsZero():
		return errs.InvalidField("end_time", "is required")
	case !end.After(start):
		return errs.InvalidField("end_time", "must be after start_time")
	case end.Sub(start) > MaxExportRange:
		return errs.InvalidField("end_time", "the range is %s long; at most 366 days can be exported at once", end.Sub(start).Round(time.Hour))
	}
	return nil
}

// Export calls emit, in seq order, for each entry with time in [start, end),
// with whether that entry verifies, and returns the verification of the
// chain over the whole stretch of the log the range spans (entries outside
// the range that fall between are checked too, not emitted).
func (s *Service) Export(ctx context.Context, start, end time.Time, emit func(e *Entry, verified bool) error) (Verification, error) {
	if err := CheckExportRange(start, end); err != nil {
		return Verification{}, err
	}
	// As PostgreSQL compares them, so the rows it finds are the rows kept.
	start, end = Normalize(start), Normalize(end)
	first, last, ok, err := s.store.Span(ctx, start, end)
	if err != nil {
		return Verification{}, err
	}
	if !ok {
		return Verification{OK: true}, nil
	}
	var v *Verifier
	err = s.walkAnchored(ctx, first, last, func(anchor *Entry) { v = NewVerifier(first, anchor) }, func(e *Entry) error {
		verified, _ := v.Check(e)
		if e.Time.Before(start) || !e.Time.Before(end) {
			return nil
		}
		return emit(e, verified)
	})
	if err != nil {
		return Verification{}, err
	}
	return v.Result(), nil
}

// walkAnchored walks [from, to], first handing start the entry before from
// (nil when there is none) to anchor the chain.
func (s *Service) walkAnchored(ctx context.Context, from, to int64, start func(anchor *Entry), fn func(*Entry) error) error {
	if from <= 1 {
		start(nil)
		return s.store.Walk(ctx, from, to, fn)
	}
	started := false
	err := s.store.Walk(ctx, from-1, to, func(e *Entry) error {
		if !started {
			started = true
			if e.Seq == from-1 {
				start(e)
				return nil
			}
			start(nil)
		}
		return fn(e)
	})
	if err != nil {
		return err
	}
	if !started {
		start(nil)
	}
	return nil
}

// Summary is the one line that describes a record.
func Summary(r *Record) string {
	s := fmt.Sprintf("%s %s", r.Actor, r.Action)
	if r.Resource != "" {
		s += " " + r.Resource
	}
	if r.Outcome != "" && r.Outcome != "success" {
		s += " (" + r.Outcome + ")"
	}
	return s
}
