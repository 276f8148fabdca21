package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// flakyServer is an HTTP server on 127.0.0.1 whose answer tests can flip,
// and which counts the probes it received.
type flakyServer struct {
	*httptest.Server
	failing atomic.Bool
	hits    atomic.Int64
}

func newFlakyServer(tb testing.TB) *flakyServer {
	tb.Helper()
	f := &flakyServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if f.failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(f.Close)
	return f
}

// newTCPListener accepts and closes connections on 127.0.0.1 until cleanup.
func newTCPListener(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// newGRPCHealthServer serves the standard health service on 127.0.0.1.
func newGRPCHealthServer(tb testing.TB) (string, *health.Server) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	tb.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String(), hs
}

func newRunner(tb testing.TB) *Runner {
	tb.Helper()
	r := NewRunner()
	tb.Cleanup(r.Close)
	return r
}

func stopScheduler(tb testing.TB, s *Scheduler) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		tb.Errorf("Stop() = %v, want nil", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func timing(s Spec) Spec {
	s.Period = time.Second
	s.Timeout = 200 * time.Millisecond
	s.SuccessThreshold = 1
	s.FailureThreshold = 1
	return s
}
