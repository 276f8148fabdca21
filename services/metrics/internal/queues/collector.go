package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Advisory subjects JetStream publishes when a consumer gives up on a message;
// the last two tokens are <stream>.<consumer>.
const (
	AdvisoryMaxDeliveries = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
	AdvisoryTerminated    = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED"
)

// advisory holds the fields of both advisories that the DLQ needs (they share
// their names; Reason is only in the terminated one).
type advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason"`
}

// handleTimeout bounds the work for one advisory, so a stuck server does not
// pile up callbacks.
const handleTimeout = 10 * time.Second

// Collector turns consumer advisories into DLQ entries. Advisories are core
// NATS messages (at most once), so a message the collector misses while it is
// down is not dead-lettered; run it wherever the consumers' servers run.
type Collector struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	logger *slog.Logger
	cfg    StreamConfig
	now    func() time.Time

	mu   sync.Mutex
	subs []*nats.Subscription
	ctx  context.Context
	stop context.CancelFunc
}

// NewCollector returns a Collector writing into the DLQ stream cfg names
// (created by Start if missing).
func NewCollector(nc *nats.Conn, js jetstream.JetStream, logger *slog.Logger, cfg StreamConfig) *Collector {
	return &Collector{nc: nc, js: js, logger: logger, cfg: cfg.withDefaults(), now: time.Now}
}

// Start ensures the DLQ stream and subscribes to the advisories of every
// stream and consumer. The subscriptions are confirmed by the server when it
// returns, so nothing published afterwards is missed. Close stops them.
func (c *Collector) Start(ctx context.Context) error {
	if _, err := EnsureStream(ctx, c.js, c.cfg); err != nil {
		return fmt.Errorf("start dlq collector: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs != nil {
		return errors.New("start dlq collector: already started")
	}
	// Callbacks outlive Start's ctx; Close cancels theirs.
	c.ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	for _, subj := range []string{AdvisoryMaxDeliveries + ".*.*", AdvisoryTerminated + ".*.*"} {
		sub, err := c.nc.Subscribe(subj, c.onAdvisory)
		if err != nil {
			c.closeLocked()
			return fmt.Errorf("start dlq collector: subscribe %s: %w", subj, err)
		}
		c.subs = append(c.subs, sub)
	}
	// FlushWithContext insists on a deadline; give it one if the caller did not.
	fctx, cancel := context.WithTimeout(ctx, handleTimeout)
	defer cancel()
	if err := c.nc.FlushWithContext(fctx); err != nil {
		c.closeLocked()
		return fmt.Errorf("start dlq collector: flush subscriptions: %w", err)
	}
	return nil
}

// Close unsubscribes; an advisory being handled finishes or is cancelled.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked()
}

func (c *Collector) closeLocked() error {
	var errs []error
	for _, s := range c.subs {
		if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("unsubscribe %s: %w", s.Subject, err))
		}
	}
	c.subs = nil
	if c.stop != nil {
		c.stop()
	}
	return errors.Join(errs...)
}

// onAdvisory is the subscription callback; the error is handled (logged) here,
// since there is no one to return it to.
func (c *Collector) onAdvisory(m *nats.Msg) {
	c.mu.Lock()
	parent := c.ctx
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(parent, handleTimeout)
	defer cancel()
	if err := c.handle(ctx, m.Subject, m.Data); err != nil {
		c.logger.Error("dead-letter a message", "advisory_subject", m.Subject, "error", err)
	}
}

// handle writes the DLQ entry for one advisory. Safe to call again for the
// same advisory: the Nats-Msg-Id makes the DLQ stream drop the copy.
func (c *Collector) handle(ctx context.Context, subject string, data []byte) error {
	var adv advisory
	if err := json.Unmarshal(data, &adv); err != nil {
		return fmt.Errorf("decode advisory: %w", err)
	}
	if adv.Stream == "" || adv.Consumer == "" || adv.StreamSeq == 0 {
		return fmt.Errorf("advisory on %s lacks stream, consumer or sequence", subject)
	}
	// A consumer of the DLQ itself giving up would loop forever.
	if adv.Stream == c.cfg.Name {
		return nil
	}
	kind, reason := KindMaxDeliveries, "max deliveries reached"
	if strings.HasPrefix(subject, AdvisoryTerminated+".") {
		kind, reason = KindTerminated, adv.Reason
		if reason == "" {
			reason = "terminated"
		}
	}

	out := nats.NewMsg(Subject(adv.Stream, adv.Consumer))
	missing := false
	orig, err := c.original(ctx, adv.Stream, adv.StreamSeq)
	switch {
	case err == nil:
		for k, v := range orig.Header {
			if !isNATSHeader(k) && !isDLQHeader(k) {
				out.Header[k] = append([]string(nil), v...)
			}
		}
		out.Data = orig.Data
		out.Header.Set(HeaderSubject, orig.Subject)
		if id := agentID(orig.Header); id != "" {
			out.Header.Set(HeaderAgent, id)
		}
	case errors.Is(err, jetstream.ErrMsgNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		// Retention already removed it; the entry still records that the
		// consumer gave up, which is what an operator needs to know.
		missing = true
		out.Header.Set(HeaderMissing, "true")
	default:
		return fmt.Errorf("get %s message %d: %w", adv.Stream, adv.StreamSeq, err)
	}
	out.Header.Set(HeaderStream, adv.Stream)
	out.Header.Set(HeaderSequence, strconv.FormatUint(adv.StreamSeq, 10))
	out.Header.Set(HeaderConsumer, adv.Consumer)
	out.Header.Set(HeaderDeliveries, strconv.FormatUint(adv.Deliveries, 10))
	out.Header.Set(HeaderKind, kind)
	out.Header.Set(HeaderReason, reason)
	out.Header.Set(HeaderTime, c.now().UTC().Format(time.RFC3339Nano))

	// One entry per source message and consumer, whichever advisory arrives
	// and however often.
	msgID := adv.Stream + ":" + strconv.FormatUint(adv.StreamSeq, 10) + ":" + adv.Consumer
	ack, err := c.js.PublishMsg(ctx, out, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(c.cfg.Name))
	if err != nil {
		return fmt.Errorf("publish dlq entry for %s message %d: %w", adv.Stream, adv.StreamSeq, err)
	}
	if !ack.Duplicate {
		c.logger.Warn("message dead-lettered",
			"stream", adv.Stream, "consumer", adv.Consumer, "stream_seq", adv.StreamSeq,
			"kind", kind, "reason", reason, "missing", missing, "dlq_seq", ack.Sequence)
	}
	return nil
}

// original fetches a message from its source stream by sequence.
func (c *Collector) original(ctx context.Context, stream string, seq uint64) (*jetstream.RawStreamMsg, error) {
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("look up stream: %w", err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("get message: %w", err)
	}
	return m, nil
}
