package queues

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/platformportal/portal/platform/errs"
)

// Peek limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects DLQ entries. Empty Stream or Consumer match any.
type Filter struct {
	Stream   string
	Consumer string
	// After skips entries with a DLQ sequence up to and including it; pass the
	// last Seq of a page to get the next.
	After uint64
	// Limit caps the entries: for Peek 0 means DefaultLimit (at most
	// MaxLimit); for Purge 0 means all.
	Limit int
}

func (f Filter) subject() (string, error) {
	// Names with these would change the subject's shape or match too much.
	for _, fv := range [...]struct{ field, v string }{{"stream", f.Stream}, {"consumer", f.Consumer}} {
		if strings.ContainsAny(fv.v, ".*> \t") {
			return "", errs.InvalidField(fv.field, "%q is not a stream or consumer name", fv.v)
		}
	}
	if f.Limit < 0 {
		return "", errs.InvalidField("limit", "must not be negative")
	}
	st, co := f.Stream, f.Consumer
	if st == "" {
		st = "*"
	}
	if co == "" {
		co = "*"
	}
	return Subject(st, co), nil
}

// Inspector reads and acts on DLQ entries. Reading never consumes: entries
// are fetched by sequence, so any number of operators can look at once.
type Inspector struct {
	js     jetstream.JetStream
	stream string
}

// NewInspector returns an Inspector over the DLQ stream named by cfg (the
// stream must exist; the Collector creates it).
func NewInspector(js jetstream.JetStream, cfg StreamConfig) *Inspector {
	return &Inspector{js: js, stream: cfg.withDefaults().Name}
}

func (in *Inspector) dlq(ctx context.Context) (jetstream.Stream, error) {
	s, err := in.js.Stream(ctx, in.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, errs.E(errs.NotFound, "DLQ_NOT_FOUND", "dlq stream %s does not exist", in.stream)
	}
	if err != nil {
		return nil, fmt.Errorf("look up dlq stream %s: %w", in.stream, err)
	}
	return s, nil
}

// Peek returns entries matching f in DLQ order, leaving them in place.
// Errors: Invalid for a bad filter, NotFound if the DLQ stream is missing.
func (in *Inspector) Peek(ctx context.Context, f Filter) ([]Entry, error) {
	subj, err := f.subject()
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	s, err := in.dlq(ctx)
	if err != nil {
		return nil, err
	}
	var out []Entry
	err = in.scan(ctx, s, subj, f.After, limit, func(m *jetstream.RawStreamMsg) error {
		out = append(out, entryFromMsg(m))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("peek dlq: %w", err)
	}
	return out, nil
}

// scan calls fn for up to limit messages on subj after sequence after
// (limit 0: all). "Next message for subject" lookups skip gaps and other
// subjects on the server, so a sparse filter costs one request per match.
func (in *Inspector) scan(ctx context.Context, s jetstream.Stream, subj string, after uint64, limit int, fn func(*jetstream.RawStreamMsg) error) error {
	seq := after + 1
	for n := 0; limit == 0 || n < limit; n++ {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get message after %d: %w", seq-1, err)
		}
		if err := fn(m); err != nil {
			return err
		}
		seq = m.Sequence + 1
	}
	return nil
}

// RetryOptions tune Retry.
type RetryOptions struct {
	// DryRun reports what would be done and changes nothing.
	DryRun bool
	// RatePerSecond caps republishing, so a backlog does not swamp the
	// consumers that failed it in the first place; 0 means no cap.
	RatePerSecond int
}

// Retry outcomes.
const (
	ActionRetried    = "retried"
	ActionWouldRetry = "would_retry"
	ActionSkipped    = "skipped"
)

// RetryResult says what happened to one requested entry.
type RetryResult struct {
	Seq     uint64
	Subject string // the original subject it went (or would go) to
	Action  string
	Reason  string // why it was skipped
}

// Retry republishes each entry's payload and original headers to its original
// subject, then deletes the entry; an entry is deleted only after JetStream
// acknowledged the republished message, so a failure leaves it in the DLQ.
// Entries that no longer exist, or whose original was missing, are skipped.
//
// The republished message carries Nats-Msg-Id "dlq-retry:<dlq stream>:<seq>":
// retrying the same entry again (say after a crash between publish and delete)
// within the source stream's duplicate window does not deliver it twice.
//
// It stops at the first error, returning the results so far with it.
func (in *Inspector) Retry(ctx context.Context, seqs []uint64, opts RetryOptions) ([]RetryResult, error) {
	if opts.RatePerSecond < 0 {
		return nil, errs.InvalidField("rate_per_second", "must not be negative")
	}
	s, err := in.dlq(ctx)
	if err != nil {
		return nil, err
	}
	lim := rate.NewLimiter(rate.Inf, 1)
	if opts.RatePerSecond > 0 {
		// Burst 1: evenly spaced, not a burst then a pause.
		lim = rate.NewLimiter(rate.Limit(opts.RatePerSecond), 1)
	}
	results := make([]RetryResult, 0, len(seqs))
	for _, seq := range seqs {
		r, err := in.retryOne(ctx, s, seq, opts.DryRun, lim)
		if err != nil {
			return results, fmt.Errorf("retry dlq entry %d: %w", seq, err)
		}
		results = append(results, r)
	}
	return results, nil
}

func (in *Inspector) retryOne(ctx context.Context, s jetstream.Stream, seq uint64, dryRun bool, lim *rate.Limiter) (RetryResult, error) {
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return RetryResult{Seq: seq, Action: ActionSkipped, Reason: "no such entry"}, nil
	}
	if err != nil {
		return RetryResult{}, fmt.Errorf("get entry: %w", err)
	}
	e := entryFromMsg(m)
	r := RetryResult{Seq: seq, Subject: e.Subject}
	if e.Missing || e.Subject == "" {
		r.Action, r.Reason = ActionSkipped, "original message was gone when dead-lettered"
		return r, nil
	}
	if dryRun {
		r.Action = ActionWouldRetry
		return r, nil
	}
	if err := lim.Wait(ctx); err != nil {
		return RetryResult{}, fmt.Errorf("wait for rate limit: %w", err)
	}
	out := &nats.Msg{Subject: e.Subject, Header: e.Header, Data: e.Data}
	msgID := "dlq-retry:" + in.stream + ":" + strconv.FormatUint(seq, 10)
	if _, err := in.js.PublishMsg(ctx, out, jetstream.WithMsgID(msgID)); err != nil {
		return RetryResult{}, fmt.Errorf("republish to %s: %w", e.Subject, err)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		// Republished but still in the DLQ: a second Retry is deduplicated by
		// the message id within the source stream's window.
		return RetryResult{}, fmt.Errorf("delete entry after republishing: %w", err)
	}
	r.Action = ActionRetried
	return r, nil
}

// Purge deletes the entries matching f and returns how many it deleted. It
// asks no questions: confirming with the operator (and auditing who purged
// what) is the caller's job. Errors as for Peek.
func (in *Inspector) Purge(ctx context.Context, f Filter) (int, error) {
	subj, err := f.subject()
	if err != nil {
		return 0, err
	}
	s, err := in.dlq(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	err = in.scan(ctx, s, subj, f.After, f.Limit, func(m *jetstream.RawStreamMsg) error {
		if err := s.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("delete entry %d: %w", m.Sequence, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("purge dlq: %w", err)
	}
	return n, nil
}
