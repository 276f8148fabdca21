// Package agenttest has the test harness shared by the agentkit tests and
// the reference agent's tests: an embedded NATS server on a free port, a log
// sink that finds the agent's address, and polling helpers.
package agenttest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// StartNATS runs a NATS server on a free loopback port until the test ends
// and returns its URL.
func StartNATS(tb testing.TB) string {
	tb.Helper()
	return StartNATSServer(tb, -1).ClientURL()
}

// StartNATSServer runs a NATS server on a loopback port (-1: a free one)
// until the test ends, for tests that stop and restart it.
func StartNATSServer(tb testing.TB, port int) *server.Server {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:   "127.0.0.1",
		Port:   port,
		NoLog:  true,
		NoSigs: true,
	})
	if err != nil {
		tb.Fatalf("new nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		tb.Fatal("nats server not ready after 10s")
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// Connect connects a test client, closed when the test ends.
func Connect(tb testing.TB, url string) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Name("test client"))
	if err != nil {
		tb.Fatalf("connect to nats: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// NewID returns a random UUID, a fresh agent id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Getenv makes a getenv from a map.
func Getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// Eventually calls cond until it returns nil or timeout passes, then fails
// the test with cond's last error.
func Eventually(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Request sends v as JSON to subject and decodes the reply into out.
func Request(tb testing.TB, nc *nats.Conn, subject string, v, out any) {
	tb.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			tb.Fatalf("marshal request: %v", err)
		}
	}
	msg, err := nc.Request(subject, data, 10*time.Second)
	if err != nil {
		tb.Fatalf("request %s %s: %v", subject, data, err)
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		tb.Fatalf("decode reply %s: %v", msg.Data, err)
	}
}

// Get fetches a URL and returns the status and body.
func Get(tb testing.TB, url string) (int, []byte) {
	tb.Helper()
	code, body, err := TryGet(url)
	if err != nil {
		tb.Fatal(err)
	}
	return code, body
}

// TryGet is Get for use inside Eventually.
func TryGet(url string) (int, []byte, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, body, nil
}

// MetricValue finds one series in Prometheus text output, e.g.
// `agent_tasks_total{kind="blank",outcome="ok"}`; labels in name order.
func MetricValue(text []byte, series string) (float64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), series+" ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		return f, err == nil
	}
	return 0, false
}

// Logs is an io.Writer for the agent's JSON log lines that the test can
// search while the agent runs.
type Logs struct {
	mu      sync.Mutex
	partial []byte
	lines   []map[string]any
	raw     []string
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.raw = append(l.raw, line)
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			l.lines = append(l.lines, m)
		}
	}
	return len(p), nil
}

// Find returns the first line whose msg is msg.
func (l *Logs) Find(msg string) (map[string]any, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if m["msg"] == msg {
			return m, true
		}
	}
	return nil, false
}

// WaitFor waits for a line whose msg is msg.
func (l *Logs) WaitFor(tb testing.TB, msg string, timeout time.Duration) map[string]any {
	tb.Helper()
	var line map[string]any
	Eventually(tb, timeout, func() error {
		var ok bool
		if line, ok = l.Find(msg); !ok {
			return fmt.Errorf("no log line %q in:\n%s", msg, l.String())
		}
		return nil
	})
	return line
}

// Addr waits for the agent's "http listening" line and returns its address.
func (l *Logs) Addr(tb testing.TB) string {
	tb.Helper()
	line := l.WaitFor(tb, "http listening", 10*time.Second)
	addr, _ := line["addr"].(string)
	if addr == "" {
		tb.Fatalf("http listening line without addr: %v", line)
	}
	return addr
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.raw, "\n")
}
