package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestRunnerHTTP(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	mux.HandleFunc("/notfound", http.NotFound)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// An endless body: the probe must stop reading and still succeed.
		buf := make([]byte, 32<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/header", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r := newRunner(t)

	tests := []struct {
		path    string
		header  http.Header
		wantOK  bool
		wantMsg string
	}{
		{"/ok", nil, true, "HTTP 200"},
		{"/redirect", nil, true, "HTTP 302"},
		{"/fail", nil, false, "HTTP 500"},
		{"/notfound", nil, false, "HTTP 404"},
		{"/big", nil, true, "HTTP 200"},
		{"/slow", nil, false, "timeout after 200ms"},
		{"/header", http.Header{"Authorization": {"Bearer tok"}}, true, "HTTP 200"},
		{"/header", nil, false, "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			spec := timing(Spec{Kind: KindHTTP, HTTPGet: &HTTPGetAction{URL: srv.URL + tt.path, Header: tt.header}})
			start := time.Now()
			got := r.Probe(context.Background(), spec)
			if got.OK != tt.wantOK || got.Message != tt.wantMsg {
				t.Errorf("Probe(%s) = {OK %v, Message %q}, want {OK %v, Message %q}", tt.path, got.OK, got.Message, tt.wantOK, tt.wantMsg)
			}
			if got.Time.Before(start) || got.Latency <= 0 {
				t.Errorf("Probe(%s) = {Time %v, Latency %v}, want Time >= %v and a positive Latency", tt.path, got.Time, got.Latency, start)
			}
			if got.Latency > spec.Timeout+300*time.Millisecond {
				t.Errorf("Probe(%s).Latency = %v, want about the timeout %v at most", tt.path, got.Latency, spec.Timeout)
			}
		})
	}
}

func TestRunnerHTTPMessageHidesSecrets(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	url := "http://user:pa55word@" + closedAddr(t) + "/healthz?token=s3cret"
	got := r.Probe(context.Background(), timing(Spec{Kind: KindHTTP, HTTPGet: &HTTPGetAction{URL: url}}))
	if got.OK {
		t.Fatalf("Probe(closed port).OK = true, want false")
	}
	for _, secret := range []string{"pa55word", "s3cret", "healthz"} {
		if strings.Contains(got.Message, secret) {
			t.Errorf("Probe(closed port).Message = %q, want it without %q", got.Message, secret)
		}
	}
	if !strings.Contains(got.Message, "connection refused") {
		t.Errorf("Probe(closed port).Message = %q, want it to say connection refused", got.Message)
	}
}

func TestRunnerTCP(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	tests := []struct {
		name   string
		addr   string
		wantOK bool
	}{
		{"listening", newTCPListener(t), true},
		{"closed", closedAddr(t), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := r.Probe(context.Background(), timing(Spec{Kind: KindTCP, TCPSocket: &TCPSocketAction{Address: tt.addr}}))
			if got.OK != tt.wantOK {
				t.Errorf("Probe(tcp %s) = {OK %v, Message %q}, want OK %v", tt.addr, got.OK, got.Message, tt.wantOK)
			}
		})
	}
}

func TestRunnerGRPC(t *testing.T) {
	t.Parallel()
	addr, hs := newGRPCHealthServer(t)
	hs.SetServingStatus("portal.agent", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("portal.down", healthpb.HealthCheckResponse_NOT_SERVING)
	r := newRunner(t)
	tests := []struct {
		name    string
		addr    string
		service string
		wantOK  bool
		wantMsg string
	}{
		{"server serving", addr, "", true, "SERVING"},
		{"service serving", addr, "portal.agent", true, "SERVING"},
		{"service not serving", addr, "portal.down", false, "grpc health: NOT_SERVING"},
		{"unknown service", addr, "portal.nope", false, "NotFound"},
		{"no server", closedAddr(t), "", false, "Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := r.Probe(context.Background(), timing(Spec{Kind: KindGRPC, GRPC: &GRPCAction{Address: tt.addr, Service: tt.service}}))
			if got.OK != tt.wantOK || !strings.Contains(got.Message, tt.wantMsg) {
				t.Errorf("Probe(grpc %q) = {OK %v, Message %q}, want {OK %v, Message containing %q}", tt.service, got.OK, got.Message, tt.wantOK, tt.wantMsg)
			}
		})
	}
}

func TestRunnerExec(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		wantOK  bool
		wantMsg string
	}{
		// Generous timeouts: a shell under -race on a busy machine can take
		// a while to start.
		{"exit 0", "exit 0", 3 * time.Second, true, "exit 0"},
		{"exit 3", "exit 3", 3 * time.Second, false, "exit 3"},
		{"output is not reported", "echo s3cret; echo s3cret >&2; exit 1", 3 * time.Second, false, "exit 1"},
		// The grandchild sleep is in the killed process group, so the probe
		// returns at the timeout rather than after 5 s.
		{"killed at timeout", "sleep 5 & echo $! > " + pidFile + "; wait", 300 * time.Millisecond, false, "timeout after 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := timing(Spec{Kind: KindExec, Exec: &ExecAction{Command: []string{"/bin/sh", "-c", tt.script}}})
			spec.Period, spec.Timeout = 2*tt.timeout, tt.timeout
			got := r.Probe(context.Background(), spec)
			if got.OK != tt.wantOK || got.Message != tt.wantMsg {
				t.Errorf("Probe(sh -c %q) = {OK %v, Message %q}, want {OK %v, Message %q}", tt.script, got.OK, got.Message, tt.wantOK, tt.wantMsg)
			}
			if got.Latency > spec.Timeout+time.Second {
				t.Errorf("Probe(sh -c %q).Latency = %v, want about the timeout %v at most", tt.script, got.Latency, spec.Timeout)
			}
		})
	}
	t.Cleanup(func() {
		// The sleep from "killed at timeout" must die too; SIGKILL is
		// asynchronous, so allow it a moment.
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		pid := strings.TrimSpace(string(b))
		deadline := time.Now().Add(3 * time.Second)
		for {
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil || strings.Contains(string(stat), ") Z") {
				return // gone, or a zombie: dead either way
			}
			if time.Now().After(deadline) {
				t.Errorf("grandchild %s still running after the probe timed out", pid)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
