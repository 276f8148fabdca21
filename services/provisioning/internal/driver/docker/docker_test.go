package docker_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
	"github.com/platformportal/portal/services/provisioning/internal/driver/docker"
)

const (
	agentID = "6f1c2a4e-5b7d-4e21-9a0f-3c8d2e1b7a90"
	image   = "registry.local/agents/echo:1.2.0"
)

func workload() *driver.Workload {
	return &driver.Workload{
		AgentID:  agentID,
		Name:     "echo",
		Kind:     "echo",
		Version:  "1.2.0",
		Replicas: 3,
		Image:    image,
		Args:     []string{"--verbose"},
		// AGENT_ADDR is the contract's: the workload cannot move the port.
		Env:       map[string]string{"LOG_FORMAT": "json", "AGENT_ADDR": "127.0.0.1:1"},
		Config:    map[string]any{"greeting": "hi"},
		Resources: driver.Resources{CPUMillis: 250, MemoryBytes: 64 << 20},
		Ports:     []int{18080, 18081, 18082},
		Labels:    map[string]string{"team": "core"},
		NATSURL:   "nats://127.0.0.1:4222",
	}
}

// fastOptions poll quickly so that tests take milliseconds.
func fastOptions(o docker.Options) docker.Options {
	o.PollInterval = time.Millisecond
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 10 * time.Second
	}
	return o
}

func since(e *fakeEngine, n int) []string { return e.Events()[n:] }

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newFakeEngine(t)
	e.images[image] = true
	d := docker.New(e.client(t), fastOptions(docker.Options{}))
	w := workload()

	if got := d.Name(); got != "docker" {
		t.Fatalf("Name() = %q, want docker", got)
	}

	// Deploy creates one container per replica, configured as the agent
	// contract says.
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("Deploy() = %v", err)
	}
	if diff := cmp.Diff([]string{"create portal-echo-0", "create portal-echo-1", "create portal-echo-2"}, e.Events()); diff != "" {
		t.Fatalf("Deploy() events (-want +got):\n%s", diff)
	}
	c1 := e.byName("portal-echo-1")
	wantEnv := []string{
		"AGENT_ADDR=0.0.0.0:8080",
		`AGENT_CONFIG={"greeting":"hi"}`,
		"AGENT_ID=" + agentID,
		"AGENT_INSTANCE=1",
		"AGENT_KIND=echo",
		"AGENT_NAME=echo",
		"AGENT_VERSION=1.2.0",
		"NATS_URL=nats://127.0.0.1:4222",
		"LOG_FORMAT=json",
	}
	if diff := cmp.Diff(wantEnv, c1.config.Env); diff != "" {
		t.Errorf("container env (-want +got):\n%s", diff)
	}
	wantLabels := map[string]string{
		"platformportal.dev/agent-id":   agentID,
		"platformportal.dev/agent-name": "echo",
		"platformportal.dev/instance":   "1",
		"platformportal.dev/label-team": "core",
	}
	if diff := cmp.Diff(wantLabels, c1.config.Labels); diff != "" {
		t.Errorf("container labels (-want +got):\n%s", diff)
	}
	wantHealth := &container.HealthConfig{
		Test: []string{"CMD", "agent", "healthcheck"}, Interval: 2 * time.Second,
		Timeout: 2 * time.Second, Retries: 3, StartPeriod: 5 * time.Second,
	}
	if diff := cmp.Diff(wantHealth, c1.config.Healthcheck); diff != "" {
		t.Errorf("container healthcheck (-want +got):\n%s", diff)
	}
	if got, want := c1.config.Cmd, []string{"--verbose"}; !slices.Equal(got, want) {
		t.Errorf("container cmd = %q, want %q", got, want)
	}
	port := network.MustParsePort("8080/tcp")
	if _, ok := c1.config.ExposedPorts[port]; !ok {
		t.Errorf("container exposed ports = %v, want 8080/tcp", c1.config.ExposedPorts)
	}
	wantBinding := []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "18081"}}
	if diff := cmp.Diff(wantBinding, c1.host.PortBindings[port], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("port binding (-want +got):\n%s", diff)
	}
	if got, want := c1.host.RestartPolicy, (container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3}); got != want {
		t.Errorf("restart policy = %+v, want %+v", got, want)
	}
	if got := c1.host.NanoCPUs; got != 250_000_000 {
		t.Errorf("NanoCPUs = %d, want 250000000", got)
	}
	if got := c1.host.Memory; got != 64<<20 {
		t.Errorf("Memory = %d, want %d", got, 64<<20)
	}
	if got := c1.host.MemorySwap; got != 64<<20 {
		t.Errorf("MemorySwap = %d, want %d (no swap beyond the limit)", got, 64<<20)
	}

	// Start returns only once the engine reports every container healthy.
	if err := d.Start(ctx, w); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	for i := range 3 {
		c := e.byName(docker.ContainerName(w, i))
		if c.state.Health == nil || c.state.Health.Status != container.Healthy {
			t.Errorf("after Start(), %s health = %+v, want healthy", c.name, c.state.Health)
		}
	}

	insts, err := d.Instances(ctx, w)
	if err != nil {
		t.Fatalf("Instances() = %v", err)
	}
	var want []driver.Instance
	for i, p := range []string{"18080", "18081", "18082"} {
		c := e.byName(docker.ContainerName(w, i))
		started, _ := time.Parse(time.RFC3339Nano, c.state.StartedAt)
		want = append(want, driver.Instance{
			ID: strconv.Itoa(i), State: driver.InstanceReady, Handle: c.id,
			Addr: "127.0.0.1:" + p, StartedAt: started,
		})
	}
	if diff := cmp.Diff(want, insts); diff != "" {
		t.Errorf("Instances() (-want +got):\n%s", diff)
	}

	// Logs: each container wrote info, info, warn (stderr) and debug.
	logTests := []struct {
		name string
		q    driver.LogQuery
		want []string // instance:stream:level:message prefix
	}{
		{
			name: "all, oldest first",
			q:    driver.LogQuery{},
			want: []string{
				`0:stdout:info:{"time"`, "0:stdout:info:connected to nats", `0:stderr:warn:{"level":"WARN"`, `0:stdout:debug:{"level":"DEBUG"`,
				`1:stdout:info:{"time"`, "1:stdout:info:connected to nats", `1:stderr:warn:{"level":"WARN"`, `1:stdout:debug:{"level":"DEBUG"`,
				`2:stdout:info:{"time"`, "2:stdout:info:connected to nats", `2:stderr:warn:{"level":"WARN"`, `2:stdout:debug:{"level":"DEBUG"`,
			},
		},
		{
			name: "one instance",
			q:    driver.LogQuery{Instance: "1"},
			want: []string{`1:stdout:info:{"time"`, "1:stdout:info:connected to nats", `1:stderr:warn:{"level":"WARN"`, `1:stdout:debug:{"level":"DEBUG"`},
		},
		{
			name: "warn and above",
			q:    driver.LogQuery{MinLevel: "warn"},
			want: []string{`0:stderr:warn:{"level":"WARN"`, `1:stderr:warn:{"level":"WARN"`, `2:stderr:warn:{"level":"WARN"`},
		},
		{
			name: "limit keeps the newest",
			q:    driver.LogQuery{Limit: 2},
			want: []string{`2:stderr:warn:{"level":"WARN"`, `2:stdout:debug:{"level":"DEBUG"`},
		},
		{
			name: "info and above in one instance, limited",
			q:    driver.LogQuery{Instance: "2", MinLevel: "info", Limit: 2},
			want: []string{"2:stdout:info:connected to nats", `2:stderr:warn:{"level":"WARN"`},
		},
	}
	for _, tt := range logTests {
		lines, err := d.Logs(ctx, w, tt.q)
		if err != nil {
			t.Fatalf("Logs(%+v) = %v", tt.q, err)
		}
		var got []string
		for i, l := range lines {
			if l.Time.IsZero() || (i > 0 && l.Time.Before(lines[i-1].Time)) {
				t.Errorf("Logs(%+v)[%d].Time = %v: want set and not before the previous line", tt.q, i, l.Time)
			}
			got = append(got, l.Instance+":"+l.Stream+":"+l.Level+":"+l.Message)
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: Logs(%+v) = %q, want %d lines", tt.name, tt.q, got, len(tt.want))
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tt.want[i]) {
				t.Errorf("%s: Logs(%+v)[%d] = %q, want prefix %q", tt.name, tt.q, i, got[i], tt.want[i])
			}
		}
	}

	// Suspend pauses, idempotently; Resume unpauses.
	n := len(e.Events())
	for range 2 {
		if err := d.Suspend(ctx, w); err != nil {
			t.Fatalf("Suspend() = %v", err)
		}
	}
	if diff := cmp.Diff([]string{"pause portal-echo-0", "pause portal-echo-1", "pause portal-echo-2"}, since(e, n)); diff != "" {
		t.Errorf("Suspend() twice, events (-want +got):\n%s", diff)
	}
	assertStates(t, d, w, driver.InstancePaused)
	n = len(e.Events())
	if err := d.Resume(ctx, w); err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	if diff := cmp.Diff([]string{"unpause portal-echo-0", "unpause portal-echo-1", "unpause portal-echo-2"}, since(e, n)); diff != "" {
		t.Errorf("Resume() events (-want +got):\n%s", diff)
	}
	assertStates(t, d, w, driver.InstanceReady)

	// Restart goes one container at a time, each healthy before the next.
	n = len(e.Events())
	if err := d.Restart(ctx, w); err != nil {
		t.Fatalf("Restart() = %v", err)
	}
	wantRestart := []string{
		"restart portal-echo-0", "healthy portal-echo-0",
		"restart portal-echo-1", "healthy portal-echo-1",
		"restart portal-echo-2", "healthy portal-echo-2",
	}
	if diff := cmp.Diff(wantRestart, since(e, n)); diff != "" {
		t.Errorf("Restart() events (-want +got):\n%s", diff)
	}

	// Stop is graceful (the engine is given the stop timeout) and idempotent.
	n = len(e.Events())
	for range 2 {
		if err := d.Stop(ctx, w); err != nil {
			t.Fatalf("Stop() = %v", err)
		}
	}
	got := since(e, n)
	slices.Sort(got) // stopped concurrently
	if diff := cmp.Diff([]string{"stop portal-echo-0 t=10", "stop portal-echo-1 t=10", "stop portal-echo-2 t=10"}, got); diff != "" {
		t.Errorf("Stop() twice, events (-want +got):\n%s", diff)
	}
	insts, err = d.Instances(ctx, w)
	if err != nil {
		t.Fatalf("Instances() after Stop = %v", err)
	}
	for _, in := range insts {
		if in.State != driver.InstanceStopped || in.LastExit != "exit status 0" || in.Addr != "" {
			t.Errorf("Instances() after Stop: %+v, want stopped, LastExit \"exit status 0\", no address", in)
		}
	}

	// Remove deletes everything; removing again is fine.
	for range 2 {
		if err := d.Remove(ctx, w); err != nil {
			t.Fatalf("Remove() = %v", err)
		}
	}
	insts, err = d.Instances(ctx, w)
	if err != nil || len(insts) != 0 {
		t.Errorf("Instances() after Remove = %v, %v; want none", insts, err)
	}
}

func assertStates(tb testing.TB, d *docker.Driver, w *driver.Workload, want driver.InstanceState) {
	tb.Helper()
	insts, err := d.Instances(tb.Context(), w)
	if err != nil {
		tb.Fatalf("Instances() = %v", err)
	}
	if len(insts) != w.Replicas {
		tb.Fatalf("Instances() = %d instances, want %d", len(insts), w.Replicas)
	}
	for _, in := range insts {
		if in.State != want {
			tb.Errorf("instance %s state = %s, want %s", in.ID, in.State, want)
		}
	}
}

func TestDeployIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newFakeEngine(t)
	e.images[image] = true
	d := docker.New(e.client(t), fastOptions(docker.Options{}))
	w := workload()

	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("Deploy() = %v", err)
	}
	ids := map[string]string{}
	for i := range 3 {
		c := e.byName(docker.ContainerName(w, i))
		ids[c.name] = c.id
	}
	n := len(e.Events())
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("second Deploy() = %v", err)
	}
	if got := since(e, n); len(got) != 0 {
		t.Errorf("second Deploy() events = %q, want none (the engine answered 409 and the containers were kept)", got)
	}
	for name, id := range ids {
		if c := e.byName(name); c == nil || c.id != id {
			t.Errorf("after second Deploy(), %s = %v, want the same container %s", name, c, id)
		}
	}

	// Fewer replicas: the surplus container goes.
	w.Replicas = 2
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("Deploy() with 2 replicas = %v", err)
	}
	if diff := cmp.Diff([]string{"remove portal-echo-2"}, since(e, n)); diff != "" {
		t.Errorf("Deploy() with 2 replicas, events (-want +got):\n%s", diff)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	deploy := func(ctx context.Context, d *docker.Driver, w *driver.Workload) error { return d.Deploy(ctx, w) }
	deployStart := func(ctx context.Context, d *docker.Driver, w *driver.Workload) error {
		if err := d.Deploy(ctx, w); err != nil {
			return err
		}
		return d.Start(ctx, w)
	}
	tests := []struct {
		name    string
		noImage bool // the engine lacks the image
		setup   func(t *testing.T, e *fakeEngine)
		opts    docker.Options
		change  func(w *driver.Workload)
		run     func(context.Context, *docker.Driver, *driver.Workload) error
		class   driver.Class // "" means success
		code    string
		details map[string]string
		check   func(t *testing.T, e *fakeEngine, err error)
	}{
		{
			name:    "image missing",
			noImage: true,
			run:     deploy,
			class:   driver.Configuration,
			code:    driver.CodeImageNotFound,
			details: map[string]string{"image": image},
			check:   noEvents,
		},
		{
			name:    "image missing, pulled when allowed",
			noImage: true,
			setup:   func(_ *testing.T, e *fakeEngine) { e.registry[image] = true },
			opts:    docker.Options{Pull: true},
			run:     deployStart,
		},
		{
			name:    "image missing, not in the registry either",
			noImage: true,
			opts:    docker.Options{Pull: true},
			run:     deploy,
			class:   driver.Configuration,
			code:    driver.CodeImageNotFound,
			details: map[string]string{"image": image},
			check:   noEvents,
		},
		{
			name:  "engine down on deploy",
			setup: func(_ *testing.T, e *fakeEngine) { e.srv.Close() },
			run:   deploy,
			class: driver.Dependency,
			code:  driver.CodeRuntimeDown,
		},
		{
			name:  "engine down on logs",
			setup: func(_ *testing.T, e *fakeEngine) { e.srv.Close() },
			run: func(ctx context.Context, d *docker.Driver, w *driver.Workload) error {
				_, err := d.Logs(ctx, w, driver.LogQuery{})
				return err
			},
			class: driver.Dependency,
			code:  driver.CodeRuntimeDown,
		},
		{
			name:    "port held by another process",
			setup:   func(_ *testing.T, e *fakeEngine) { e.busyPorts["127.0.0.1:18081"] = true },
			run:     deployStart,
			class:   driver.Configuration,
			code:    driver.CodePortInUse,
			details: map[string]string{"port": "18081", "instance": "1"},
		},
		{
			name: "port held by another agent's container",
			setup: func(t *testing.T, e *fakeEngine) {
				ctx := t.Context()
				other := workload()
				other.AgentID, other.Name, other.Replicas, other.Ports = "other", "other", 1, []int{18082}
				d := docker.New(e.client(t), fastOptions(docker.Options{}))
				if err := d.Deploy(ctx, other); err != nil {
					t.Fatalf("Deploy(other) = %v", err)
				}
				if err := d.Start(ctx, other); err != nil {
					t.Fatalf("Start(other) = %v", err)
				}
			},
			run:     deployStart,
			class:   driver.Configuration,
			code:    driver.CodePortInUse,
			details: map[string]string{"port": "18082", "instance": "2"},
		},
		{
			name:    "memory below docker's minimum",
			change:  func(w *driver.Workload) { w.Resources.MemoryBytes = 4 << 20 },
			run:     deploy,
			class:   driver.Configuration,
			code:    driver.CodeInvalidLimits,
			details: map[string]string{"memory_bytes": "4194304"},
			check:   noRequests,
		},
		{
			name:   "negative cpu",
			change: func(w *driver.Workload) { w.Resources.CPUMillis = -100 },
			run:    deploy,
			class:  driver.Configuration,
			code:   driver.CodeInvalidLimits,
			check:  noRequests,
		},
		{
			name:   "no replicas",
			change: func(w *driver.Workload) { w.Replicas = 0 },
			run:    deploy,
			class:  driver.Configuration,
			code:   driver.CodeInvalidLimits,
			check:  noRequests,
		},
		{
			name:   "more cpu than the engine has",
			change: func(w *driver.Workload) { w.Resources.CPUMillis = 4000 },
			run:    deploy,
			class:  driver.Configuration,
			code:   driver.CodeRuntimeRejected,
		},
		{
			name:    "container exits during start",
			setup:   func(_ *testing.T, e *fakeEngine) { e.crash[image] = 2 },
			run:     deployStart,
			class:   driver.Transient,
			code:    driver.CodeExitedOnStart,
			details: map[string]string{"instance": "0", "exit_code": "2", "restarts": "3"},
			check: func(t *testing.T, e *fakeEngine, err error) {
				f, _ := driver.AsFailure(err)
				if !strings.Contains(f.Details["logs"], "panic: nats: no servers available") {
					t.Errorf("Details[logs] = %q, want the container's last lines", f.Details["logs"])
				}
			},
		},
		{
			name:    "never healthy",
			setup:   func(_ *testing.T, e *fakeEngine) { e.healthyAfter = 1 << 30 },
			opts:    docker.Options{ReadyTimeout: 50 * time.Millisecond},
			run:     deployStart,
			class:   driver.Transient,
			code:    driver.CodeNotReady,
			details: map[string]string{"instances": "0,1,2"},
			check: func(t *testing.T, e *fakeEngine, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
				}
			},
		},
		{
			name:  "caller's deadline",
			setup: func(_ *testing.T, e *fakeEngine) { e.healthyAfter = 1 << 30 },
			run: func(ctx context.Context, d *docker.Driver, w *driver.Workload) error {
				if err := d.Deploy(ctx, w); err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
				defer cancel()
				return d.Start(ctx, w)
			},
			class: driver.Transient,
			code:  driver.CodeNotReady,
		},
		{
			name: "start before deploy",
			run: func(ctx context.Context, d *docker.Driver, w *driver.Workload) error {
				return d.Start(ctx, w)
			},
			class:   driver.Permanent,
			code:    driver.CodeNotDeployed,
			details: map[string]string{"instance": "0"},
		},
		{
			name: "name taken by a stranger",
			setup: func(_ *testing.T, e *fakeEngine) {
				e.containers["f00d"] = &fakeCtr{id: "f00d", name: "portal-echo-0", config: container.Config{Image: "busybox", Labels: map[string]string{}}}
			},
			run:     deploy,
			class:   driver.Configuration,
			code:    driver.CodeRuntimeRejected,
			details: map[string]string{"container": "portal-echo-0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFakeEngine(t)
			e.images[image] = !tt.noImage
			if tt.setup != nil {
				tt.setup(t, e)
			}
			d := docker.New(e.client(t), fastOptions(tt.opts))
			w := workload()
			if tt.change != nil {
				tt.change(w)
			}
			err := tt.run(t.Context(), d, w)
			if tt.class == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			f, ok := driver.AsFailure(err)
			if !ok {
				t.Fatalf("got %v, want a *driver.Failure %s/%s", err, tt.class, tt.code)
			}
			if f.Class != tt.class || f.Code != tt.code {
				t.Fatalf("failure = %s/%s (%v), want %s/%s", f.Class, f.Code, err, tt.class, tt.code)
			}
			for k, v := range tt.details {
				if f.Details[k] != v {
					t.Errorf("Details[%q] = %q, want %q (all: %v)", k, f.Details[k], v, f.Details)
				}
			}
			if tt.check != nil {
				tt.check(t, e, err)
			}
		})
	}
}

func noEvents(t *testing.T, e *fakeEngine, _ error) {
	t.Helper()
	if got := e.Events(); len(got) != 0 {
		t.Errorf("engine events = %q, want none", got)
	}
}

func noRequests(t *testing.T, e *fakeEngine, _ error) {
	t.Helper()
	if got := e.Requests(); got != 0 {
		t.Errorf("engine saw %d requests, want none: limits are checked first", got)
	}
}
