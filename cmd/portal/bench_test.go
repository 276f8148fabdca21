package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/platformportal/portal/platform/pgtest"
)

// Benchmarks run the real portal on loopback with bounded load: each stops
// after a fixed count or time, whichever comes first. `make bench` runs them
// once each (-benchtime 1x) and keeps the output in bench/results/.

const (
	transitionClients  = 32
	transitionDuration = 10 * time.Second
	transitionMax      = 200_000
)

// BenchmarkRESTTransitions measures lifecycle transitions per second over
// REST with 32 concurrent clients, each on its own running agent (a real
// process), alternating suspend and resume. Every transition is an operation:
// a transaction that accepts it, the provisioning service telling the agent
// over NATS, and a transaction with the history and outbox rows that
// completes it; a client sends its next action once the last one is done.
func BenchmarkRESTTransitions(b *testing.B) {
	p := startPortal(b, pgtest.NewDatabase(b), b.TempDir(), nil)
	client := &http.Client{Transport: &tokenTransport{next: &http.Transport{MaxIdleConnsPerHost: transitionClients}}}
	agents := make([]agentJSON, transitionClients)
	for i := range agents {
		a := create(b, p.base, fmt.Sprintf("bench-%d", i))
		for _, action := range []string{"provision", "deploy", "start"} {
			a = act(b, p.base, a, action)
		}
		agents[i] = a
	}
	b.ResetTimer()
	for range b.N {
		var (
			done  atomic.Int64
			fails atomic.Int64
			wg    sync.WaitGroup
		)
		lat := make([][]time.Duration, transitionClients)
		start := time.Now()
		deadline := start.Add(transitionDuration)
		for i := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := agents[i]
				// suspend and resume alternate: two real state changes.
				actions := [2]string{"suspend", "resume"}
				for n := 0; time.Now().Before(deadline) && done.Load() < transitionMax; n++ {
					t0 := time.Now()
					next, err := postAction(client, p.base, a, actions[n%2])
					if err != nil {
						fails.Add(1)
						b.Error(err)
						return
					}
					lat[i] = append(lat[i], time.Since(t0))
					a = next
					done.Add(1)
				}
				agents[i] = a
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		all := slices.Concat(lat...)
		slices.Sort(all)
		b.ReportMetric(float64(done.Load())/elapsed.Seconds(), "transitions/s")
		b.ReportMetric(ms(percentile(all, 0.50)), "p50-ms")
		b.ReportMetric(ms(percentile(all, 0.99)), "p99-ms")
		b.ReportMetric(float64(done.Load()), "transitions")
	}
}

func postAction(c *http.Client, base string, a agentJSON, action string) (agentJSON, error) {
	body, _ := json.Marshal(map[string]string{"etag": a.Etag})
	resp, err := c.Post(base+"/api/v1/agents/"+a.ID+":"+action, "application/json", bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return a, fmt.Errorf("%s: HTTP %d: %s", action, resp.StatusCode, b)
	}
	var r agentResp
	if err := json.Unmarshal(b, &r); err != nil {
		return a, err
	}
	// The action is an operation: the transition is done when it is.
	next := r.Agent
	if next.Pending != "" {
		resp, err := c.Post(base+"/api/v1/operations/"+next.Pending+":wait", "application/json", strings.NewReader(`{"timeout":"30s"}`))
		if err != nil {
			return a, err
		}
		resp.Body.Close()
		g, err := c.Get(base + "/api/v1/agents/" + a.ID)
		if err != nil {
			return a, err
		}
		var got agentResp
		err = json.NewDecoder(g.Body).Decode(&got)
		g.Body.Close()
		if err != nil {
			return a, err
		}
		next = got.Agent
	}
	if next.State == "AGENT_STATE_ERRORED" {
		return next, fmt.Errorf("%s: agent errored: %+v", action, next.Error)
	}
	return next, nil
}

const (
	fanoutClients     = 1000
	fanoutTransitions = 200
	// 10 transitions a second. Each is an operation with about five events
	// on the agent's topic (operation started, instance paused or resumed,
	// state changed, operation done), so the clients get some 50,000 frames a
	// second.
	fanoutInterval = 100 * time.Millisecond
)

// BenchmarkWebSocketFanout connects 1,000 WebSocket clients, makes 200
// transitions, and measures for every client the time from the transition's
// commit (the event's time, taken inside the transaction just before it
// commits, so slightly early) to the event's arrival. Clients and server share
// the machine's two cores, so the client side's own work is in the figure.
func BenchmarkWebSocketFanout(b *testing.B) {
	p := startPortal(b, pgtest.NewDatabase(b), b.TempDir(), nil)
	a := create(b, p.base, "fanout")
	for _, action := range []string{"provision", "deploy", "start"} {
		a = act(b, p.base, a, action)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu      sync.Mutex
		samples []time.Duration
		wg      sync.WaitGroup
		ready   sync.WaitGroup
		got     atomic.Int64
	)
	for i := range fanoutClients {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialRawWS(p.base, p.admin)
			if err != nil {
				ready.Done()
				b.Errorf("client %d: %v", i, err)
				return
			}
			defer c.conn.Close()
			stop := context.AfterFunc(ctx, func() { c.conn.Close() })
			defer stop()
			if err := c.writeText(fmt.Sprintf(`{"type":"subscribe","topics":["agents/%s"]}`, a.ID)); err != nil {
				ready.Done()
				return
			}
			if _, err := c.readFrame(); err != nil { // "subscribed"
				ready.Done()
				return
			}
			ready.Done()
			local := make([]time.Duration, 0, fanoutTransitions)
			var times []time.Time
			for len(local) < fanoutTransitions*b.N {
				data, err := c.readFrame()
				if err != nil {
					break
				}
				now := time.Now()
				times = eventTimes(times[:0], data)
				for _, t := range times {
					local = append(local, now.Sub(t))
				}
			}
			got.Add(int64(len(local)))
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}()
	}
	ready.Wait()
	b.ResetTimer()
	for range b.N {
		actions := [2]string{"suspend", "resume"}
		for n := range fanoutTransitions {
			a = act(b, p.base, a, actions[n%2])
			time.Sleep(fanoutInterval)
		}
	}
	// Every client must receive every event; wait (bounded) for the last ones.
	waitUntil := time.Now().Add(30 * time.Second)
	go func() {
		for time.Now().Before(waitUntil) && got.Load() < int64(fanoutClients*fanoutTransitions*b.N) {
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	wg.Wait()
	b.StopTimer()
	if want := fanoutClients * fanoutTransitions * b.N; len(samples) != want {
		b.Errorf("received %d events; want %d (every client, every event)", len(samples), want)
	}
	slices.Sort(samples)
	b.ReportMetric(float64(fanoutClients), "clients")
	b.ReportMetric(ms(percentile(samples, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(samples, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(samples, 1)), "max-ms")
}

var (
	stateChanged = []byte(`"eventType":"portal.agents.v1.AgentStateChanged"`)
	timeKey      = []byte(`"time":"`)
)

// eventTimes appends the times of the state-change events in a frame (one
// event, or a batch of them): the transition's commit is what the latency is
// measured from.
func eventTimes(dst []time.Time, frame []byte) []time.Time {
	for {
		i := bytes.Index(frame, stateChanged)
		if i < 0 {
			return dst
		}
		frame = frame[i+len(stateChanged):]
		j := bytes.Index(frame, timeKey)
		if j < 0 {
			return dst
		}
		rest := frame[j+len(timeKey):]
		k := bytes.IndexByte(rest, '"')
		if k < 0 {
			return dst
		}
		if t, err := time.Parse(time.RFC3339Nano, string(rest[:k])); err == nil {
			dst = append(dst, t)
		}
		frame = rest[k:]
	}
}

// rawWS is a minimal WebSocket client for the load generator: it shares the
// cores with the server, so it does as little as a client can (one read per
// frame, no allocation beyond the payload buffer).
type rawWS struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func dialRawWS(base, token string) (*rawWS, error) {
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key) //nolint:errcheck
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Authorization: Bearer %s\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		host, token, base64.StdEncoding.EncodeToString(key))
	r := bufio.NewReaderSize(conn, 16<<10)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("upgrade: %s", resp.Status)
	}
	return &rawWS{conn: conn, r: r, buf: make([]byte, 16<<10)}, nil
}

// writeText sends one masked text frame (clients must mask).
func (c *rawWS) writeText(s string) error { return c.write(0x1, []byte(s)) }

func (c *rawWS) write(opcode byte, p []byte) error {
	if len(p) > 125 {
		return fmt.Errorf("frame too long for this client")
	}
	frame := []byte{0x80 | opcode, 0x80 | byte(len(p)), 1, 2, 3, 4}
	for i, ch := range p {
		frame = append(frame, ch^frame[2+i%4])
	}
	_, err := c.conn.Write(frame)
	return err
}

// readFrame returns the next data frame's payload; control frames are skipped.
func (c *rawWS) readFrame() ([]byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(c.r, ext[:]); err != nil {
				return nil, err
			}
			n = int(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(c.r, ext[:]); err != nil {
				return nil, err
			}
			n = int(binary.BigEndian.Uint64(ext[:]))
		}
		if n > len(c.buf) {
			c.buf = make([]byte, n)
		}
		if _, err := io.ReadFull(c.r, c.buf[:n]); err != nil {
			return nil, err
		}
		switch op := h[0] & 0x0f; op {
		case 1, 2:
			return c.buf[:n], nil
		case 9: // ping: answer, as a browser does, or the server hangs up
			if err := c.write(0xA, c.buf[:n]); err != nil {
				return nil, err
			}
		}
	}
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
