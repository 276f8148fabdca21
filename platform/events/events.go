// Package events connects to NATS, declares the platform's event stream, and
// names the headers every event carries (CloudEvents-style, plus the trace
// context and Nats-Msg-Id for JetStream's de-duplication).
package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/platformportal/portal/platform/config"
)

// Stream is the JetStream stream holding every service's events.
const Stream = "PORTAL_EVENTS"

// SubjectPrefix starts every event subject: portal.events.<service>.<type>.
const SubjectPrefix = "portal.events."

// Headers every event carries.
const (
	HeaderID          = "ce-id"      // event id (a UUID), also Nats-Msg-Id
	HeaderSource      = "ce-source"  // producing service, e.g. "portal/agents"
	HeaderType        = "ce-type"    // protobuf full name of the payload
	HeaderTime        = "ce-time"    // RFC 3339 with nanoseconds, when the change committed
	HeaderSubject     = "ce-subject" // the resource, e.g. "agents/<id>"
	HeaderContentType = "ce-datacontenttype"
	ContentType       = "application/protobuf"

	// HeaderActor names who made the change ("alice@example.com",
	// "token:deploy-bot", "service:agents", "system"); the audit log records it.
	HeaderActor = "portal-actor"
	// HeaderOutcome is "success" (the default when absent), "failure" or
	// "denied", for events that record an attempt rather than a change.
	HeaderOutcome = "portal-outcome"
)

// Subject returns the subject for an event type of a service.
func Subject(service, eventType string) string {
	return SubjectPrefix + service + "." + eventType
}

// Connect dials NATS with endless reconnects, logging connection changes.
func Connect(ctx context.Context, url, name string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			logger.Error("nats async error", "subject", subj, "error", err)
		}),
	}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	return nc, nil
}

// EnsureStream creates the event stream, or updates it to cfg.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg config.NATS) (jetstream.Stream, error) {
	sc := jetstream.StreamConfig{
		Name:        Stream,
		Description: "Platform Portal events, one subject per service and type",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      cfg.StreamMaxAge,
		Duplicates:  cfg.DuplicateWindow,
		Discard:     jetstream.DiscardOld,
	}
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", Stream, err)
	}
	return s, nil
}

// LogStream holds agents' log lines for live tailing: short-lived and
// size-capped, since the runtime keeps the logs themselves.
const LogStream = "PORTAL_LOGS"

// LogSubjectPrefix starts every log subject: portal.logs.<agent id>.
const LogSubjectPrefix = "portal.logs."

// Headers of log lines, for filtering without decoding them.
const (
	HeaderInstance = "portal-instance"
	HeaderLevel    = "portal-level"
)

// EnsureLogStream creates the log stream, or updates it.
func EnsureLogStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        LogStream,
		Description: "Agents' log lines, for live tailing",
		Subjects:    []string{LogSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		MaxAge:      time.Hour,
		MaxBytes:    256 << 20,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", LogStream, err)
	}
	return s, nil
}
