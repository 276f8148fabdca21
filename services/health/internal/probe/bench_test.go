package probe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// counting wraps a Prober to count runs and failures.
type counting struct {
	Prober
	runs, failures atomic.Int64
	firstFailure   atomic.Value // string
}

func (c *counting) Probe(ctx context.Context, spec Spec) Result {
	r := c.Prober.Probe(ctx, spec)
	c.runs.Add(1)
	if !r.OK {
		c.failures.Add(1)
		c.firstFailure.CompareAndSwap(nil, r.Message)
	}
	return r
}

func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchWindow is how long each iteration probes: long enough for the
// jittered first runs to settle into a steady 1,000 probes a second.
const benchWindow = 6 * time.Second

// BenchmarkProbe1000At1s probes 1,000 targets at a 1 s period against four
// local servers and reports the process's CPU time per wall second
// ("cpu-share", 1.0 = one core busy) and probes per second. The servers run
// in this process, so their CPU is included: it is an upper bound on the
// engine's cost. Run with -benchtime 1x.
func BenchmarkProbe1000At1s(b *testing.B) {
	const targets, servers = 1000, 4
	for _, kind := range []Kind{KindTCP, KindHTTP} {
		b.Run(string(kind), func(b *testing.B) {
			var addrs []string
			for range servers {
				switch kind {
				case KindTCP:
					addrs = append(addrs, newTCPListener(b))
				case KindHTTP:
					srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
					b.Cleanup(srv.Close)
					addrs = append(addrs, srv.URL)
				}
			}
			for range b.N {
				runner := NewRunner()
				p := &counting{Prober: runner}
				s, err := NewScheduler(Config{Prober: p, Concurrency: 64})
				if err != nil {
					b.Fatalf("NewScheduler() = %v", err)
				}
				for i := range targets {
					spec := Spec{Kind: kind, Period: time.Second, Timeout: 500 * time.Millisecond, SuccessThreshold: 1, FailureThreshold: 3}
					if kind == KindTCP {
						spec.TCPSocket = &TCPSocketAction{Address: addrs[i%servers]}
					} else {
						spec.HTTPGet = &HTTPGetAction{URL: addrs[i%servers] + "/healthz"}
					}
					if err := s.Add(Target{ID: fmt.Sprint("i-", i), Spec: spec}); err != nil {
						b.Fatalf("Add() = %v", err)
					}
				}
				cpu0, wall0 := cpuTime(b), time.Now()
				time.Sleep(benchWindow)
				cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
				// Read before Stop, which cancels the probes in flight.
				runs, failures := p.runs.Load(), p.failures.Load()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err = s.Stop(ctx)
				cancel()
				runner.Close()
				if err != nil {
					b.Fatalf("Stop() = %v", err)
				}
				if failures > 0 {
					b.Errorf("%d of %d probes failed against local servers (first: %v), want none", failures, runs, p.firstFailure.Load())
				}
				b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-share")
				b.ReportMetric(float64(runs)/wall.Seconds(), "probes/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(runs), "cpu-us/probe")
			}
		})
	}
}
