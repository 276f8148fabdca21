package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Prober runs one probe. The Scheduler calls it from its workers; it must be
// safe for concurrent use and must return by the spec's timeout.
type Prober interface {
	Probe(ctx context.Context, spec Spec) Result
}

// Runner is the Prober for the real probe kinds.
type Runner struct {
	http *http.Client
}

var _ Prober = (*Runner)(nil)

// NewRunner returns a Runner. Call Close when done with it.
func NewRunner() *Runner {
	tr := &http.Transport{
		Proxy: nil, // probes go straight to the instance, never via a proxy
		DialContext: (&net.Dialer{
			KeepAlive: -1,
		}).DialContext,
		// Keep-alive connections make 1,000 targets a second cheap; bounding
		// the idle pool keeps file descriptors in check.
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &Runner{http: &http.Client{
		Transport: tr,
		// Like Kubernetes' probes, a redirect is a result, not a hop: 3xx is
		// success and we never leave the target.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Close releases the Runner's idle connections.
func (r *Runner) Close() { r.http.CloseIdleConnections() }

// Probe runs spec once under spec.Timeout. It never returns an error: every
// failure is a Result with OK false.
func (r *Runner) Probe(ctx context.Context, spec Spec) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()

	var msg string
	var err error
	switch spec.Kind {
	case KindHTTP:
		msg, err = r.probeHTTP(ctx, spec.HTTPGet)
	case KindTCP:
		msg, err = probeTCP(ctx, spec.TCPSocket)
	case KindGRPC:
		msg, err = probeGRPC(ctx, spec.GRPC)
	case KindExec:
		msg, err = probeExec(ctx, spec.Exec)
	default:
		err = fmt.Errorf("unknown kind %q", spec.Kind)
	}
	res := Result{OK: err == nil, Latency: time.Since(start), Time: start}
	switch {
	case err == nil:
		res.Message = truncate(msg)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Message = fmt.Sprintf("timeout after %v", spec.Timeout)
	default:
		res.Message = truncate(err.Error())
	}
	return res
}
