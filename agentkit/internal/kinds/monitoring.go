package kinds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/platformportal/portal/agentkit"
)

const (
	maxTargets    = 50
	checkTimeout  = 2 * time.Second
	maxBodyToRead = 1 << 20
)

// monitor checks HTTP targets. It only reaches loopback addresses: a check
// is a probe of something on the agent's own host, and an agent that could
// be told to fetch any URL would be an open proxy into the platform network.
type monitor struct {
	client *http.Client
}

func newMonitor() *monitor {
	dialer := &net.Dialer{
		Timeout: checkTimeout,
		// Checked again at dial time, on the resolved address: a name that
		// looked local ("localhost") must also resolve to loopback.
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("refusing to connect to %s: not a loopback address", host)
			}
			return nil
		},
	}
	return &monitor{client: &http.Client{
		Timeout: checkTimeout,
		Transport: &http.Transport{
			// No proxy from the environment: the check is of the target itself.
			Proxy:       nil,
			DialContext: dialer.DialContext,
			// Each check opens its own connection, as a fresh client would.
			DisableKeepAlives: true,
		},
		// A check reports what the target answered, redirects included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type checkInput struct {
	Targets []string `json:"targets"`
}

type checkOutput struct {
	Target    string  `json:"target"`
	Status    int     `json:"status"` // 0 when no response came
	OK        bool    `json:"ok"`     // a 2xx or 3xx response
	LatencyMs float64 `json:"latencyMs"`
	Error     string  `json:"error,omitempty"`
}

// check GETs every target at once and reports each. A target that fails is
// a result, not an error; a target that may not be checked is an error.
func (m *monitor) check(ctx context.Context, raw json.RawMessage, _ agentkit.Config) (any, error) {
	var in checkInput
	if err := decodeInput(raw, &in); err != nil {
		return nil, err
	}
	if len(in.Targets) == 0 {
		return nil, errors.New("targets is required")
	}
	if len(in.Targets) > maxTargets {
		return nil, fmt.Errorf("targets: at most %d, got %d", maxTargets, len(in.Targets))
	}
	for _, t := range in.Targets {
		if err := checkTarget(t); err != nil {
			return nil, err
		}
	}

	out := make([]checkOutput, len(in.Targets))
	var wg sync.WaitGroup
	for i, t := range in.Targets {
		wg.Go(func() { out[i] = m.get(ctx, t) })
	}
	wg.Wait()
	return out, nil
}

func (m *monitor) get(ctx context.Context, target string) (out checkOutput) {
	out.Target = target
	start := time.Now()
	defer func() { out.LatencyMs = float64(time.Since(start).Microseconds()) / 1000 }()
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	resp, err := m.client.Do(req)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	defer resp.Body.Close()
	// The latency is of the whole response, as a user would wait for it.
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyToRead))
	out.Status = resp.StatusCode
	out.OK = resp.StatusCode >= 200 && resp.StatusCode < 400 && err == nil
	if err != nil {
		out.Error = fmt.Sprintf("read body: %v", err)
	}
	return out
}

// checkTarget refuses targets that are not http(s) URLs of a loopback host.
func checkTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("target %q: %w", target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: scheme must be http or https", target)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %q: only loopback hosts (127.0.0.0/8, ::1, localhost) may be checked", target)
}
