// Package process runs agents as supervised child processes of the
// provisioning service: the default driver everywhere, since it needs nothing
// but the agent binary. Each replica gets its own port, working directory and
// environment; its output is captured line by line; a crash is followed by a
// restart with exponential backoff; and nothing outlives the service (each
// child is in its own process group, killed on Remove and on Close, and the
// kernel kills it if the service dies first).
package process

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// MinMemoryBytes is the least memory limit an agent starts under. The limit
// is RLIMIT_DATA, which counts the writable memory a Go program maps at
// start-up (the heap arena index, thread stacks: some 100 MiB) as well as
// what it uses, so a smaller limit kills it before it runs.
const MinMemoryBytes = 128 << 20

// Options tune the driver.
type Options struct {
	// DataDir holds each instance's working directory.
	DataDir string
	// StopTimeout is how long a stopping instance gets between SIGTERM and SIGKILL.
	StopTimeout time.Duration
	// BackoffInitial and BackoffMax bound the delay before a crashed instance
	// is restarted; it doubles per crash and resets once an instance has run
	// for StableAfter.
	BackoffInitial, BackoffMax, StableAfter time.Duration
	// CrashLoopRestarts within CrashLoopWindow make an instance crash-looping.
	CrashLoopRestarts int
	CrashLoopWindow   time.Duration
	// LogLines is how many lines are kept per instance.
	LogLines int
	// ProbeInterval is how often readiness is polled while starting.
	ProbeInterval time.Duration
	// Control sends a control message to all of an agent's instances (pause,
	// resume); the service wires it to NATS agents.<id>.control.
	Control func(ctx context.Context, agentID string, msg []byte) error
	// OnInstance is told when an instance changes state.
	OnInstance func(agentID string, in driver.Instance, reason string)
	// OnLog is given every line, for streaming.
	OnLog func(agentID string, line driver.LogLine)
	// OnCrashLoop is told when an instance starts crash-looping.
	OnCrashLoop func(agentID string, f *driver.Failure)
	Logger      *slog.Logger
}

func (o *Options) defaults() {
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 10 * time.Second
	}
	if o.StableAfter <= 0 {
		o.StableAfter = 10 * time.Second
	}
	if o.CrashLoopRestarts <= 0 {
		o.CrashLoopRestarts = 5
	}
	if o.CrashLoopWindow <= 0 {
		o.CrashLoopWindow = time.Minute
	}
	if o.LogLines <= 0 {
		o.LogLines = 2000
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 25 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Driver is the process driver.
type Driver struct {
	opts   Options
	client *http.Client

	mu        sync.Mutex
	workloads map[string]*workload
	closed    bool
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver.
func New(opts Options) *Driver {
	opts.defaults()
	return &Driver{
		opts:      opts,
		client:    &http.Client{Timeout: time.Second},
		workloads: map[string]*workload{},
	}
}

// Name implements driver.Driver.
func (d *Driver) Name() string { return "process" }

type workload struct {
	spec      driver.Workload
	instances []*instance
}

// Deploy checks what a start needs (the binary, sane limits, ports) and
// prepares the working directories.
func (d *Driver) Deploy(ctx context.Context, w *driver.Workload) error {
	if err := check(w); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("process driver is closed")
	}
	wl := d.workloads[w.AgentID]
	if wl == nil {
		wl = &workload{}
		d.workloads[w.AgentID] = wl
	}
	wl.spec = cloneSpec(w)
	// A re-provision may have moved ports; instances not running take the new ones.
	for i, in := range wl.instances {
		if i < len(w.Ports) && !in.running() {
			in.port.Store(int64(w.Ports[i]))
		}
	}
	for i := len(wl.instances); i < w.Replicas; i++ {
		dir := filepath.Join(d.opts.DataDir, w.AgentID, strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("working directory for instance %d: %w", i, err)
		}
		in := &instance{d: d, agentID: w.AgentID, id: strconv.Itoa(i), dir: dir, state: driver.InstanceStopped, logs: newRing(d.opts.LogLines)}
		in.port.Store(int64(w.Ports[i]))
		wl.instances = append(wl.instances, in)
	}
	return nil
}

func check(w *driver.Workload) error {
	if w.Replicas < 1 {
		return driver.Fail(driver.Configuration, driver.CodeInvalidLimits, nil, "replicas must be at least 1, not %d", w.Replicas)
	}
	if len(w.Ports) < w.Replicas {
		return fmt.Errorf("workload has %d ports for %d replicas", len(w.Ports), w.Replicas)
	}
	if m := w.Resources.MemoryBytes; m != 0 && m < MinMemoryBytes {
		return driver.Fail(driver.Configuration, driver.CodeInvalidLimits, nil,
			"a memory limit of %d bytes is below the %d MiB an agent needs to start", m, MinMemoryBytes>>20).
			With("memory_bytes", strconv.FormatInt(m, 10)).With("minimum_bytes", strconv.Itoa(MinMemoryBytes))
	}
	if c := w.Resources.CPUMillis; c != 0 && c < 10 {
		return driver.Fail(driver.Configuration, driver.CodeInvalidLimits, nil,
			"a CPU limit of %d millicores is below the 10 an agent needs", c).With("cpu_millis", strconv.FormatInt(c, 10))
	}
	path, err := exec.LookPath(w.Image)
	if err != nil {
		return driver.Fail(driver.Configuration, driver.CodeBinaryNotFound, err, "agent binary %q not found", w.Image).
			With("binary", w.Image)
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return driver.Fail(driver.Configuration, driver.CodeBinaryNotFound, err, "agent binary %q is not an executable file", w.Image).
			With("binary", w.Image)
	}
	return nil
}

func (d *Driver) get(agentID string) (*workload, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	wl := d.workloads[agentID]
	if wl == nil {
		return nil, driver.Fail(driver.Permanent, driver.CodeNotDeployed, nil, "agent %s is not deployed", agentID)
	}
	return wl, nil
}

// Start runs every instance that is not running and waits until all are
// ready. An instance that exits, a taken port or ctx ending is a Failure.
func (d *Driver) Start(ctx context.Context, w *driver.Workload) error {
	if err := d.Deploy(ctx, w); err != nil {
		return err
	}
	wl, err := d.get(w.AgentID)
	if err != nil {
		return err
	}
	for _, in := range wl.instances[:w.Replicas] {
		if err := in.start(wl.spec); err != nil {
			return err
		}
	}
	return d.waitReady(ctx, wl.instances[:w.Replicas])
}

func (d *Driver) waitReady(ctx context.Context, ins []*instance) error {
	tick := time.NewTicker(d.opts.ProbeInterval)
	defer tick.Stop()
	for {
		ready := 0
		for _, in := range ins {
			st := in.snapshot()
			switch st.State {
			case driver.InstanceCrashLooping:
				return in.failure(driver.Transient, driver.CodeCrashLoop, "instance %s keeps crashing (%d restarts)", in.id, st.Restarts)
			case driver.InstanceRestarting, driver.InstanceStopped:
				// It exited while starting: the first exit explains itself best.
				if st.Restarts > 0 || st.State == driver.InstanceStopped {
					return in.exitFailure()
				}
			}
			if d.probe(ctx, in.addr(), "/readyz") {
				in.setState(driver.InstanceReady, "ready")
				ready++
			}
		}
		if ready == len(ins) {
			return nil
		}
		select {
		case <-ctx.Done():
			for _, in := range ins {
				if in.snapshot().State != driver.InstanceReady {
					return in.failure(driver.Transient, driver.CodeNotReady, "instance %s did not become ready in time", in.id)
				}
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (d *Driver) probe(ctx context.Context, addr, path string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return false
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop stops every instance gracefully (SIGTERM, then SIGKILL after
// StopTimeout) and waits for them.
func (d *Driver) Stop(ctx context.Context, w *driver.Workload) error {
	wl, err := d.get(w.AgentID)
	if err != nil {
		if f, ok := driver.AsFailure(err); ok && f.Code == driver.CodeNotDeployed {
			return nil // nothing runs
		}
		return err
	}
	var wg sync.WaitGroup
	for _, in := range wl.instances {
		wg.Add(1)
		go func() { defer wg.Done(); in.stop() }()
	}
	wg.Wait()
	return nil
}

// Suspend tells the agent's instances to stop taking tasks; they stay up.
func (d *Driver) Suspend(ctx context.Context, w *driver.Workload) error {
	return d.control(ctx, w, true)
}

// Resume tells them to take tasks again.
func (d *Driver) Resume(ctx context.Context, w *driver.Workload) error {
	return d.control(ctx, w, false)
}

func (d *Driver) control(ctx context.Context, w *driver.Workload, pause bool) error {
	wl, err := d.get(w.AgentID)
	if err != nil {
		return err
	}
	if d.opts.Control == nil {
		return errors.New("process driver has no control channel")
	}
	msg, _ := json.Marshal(map[string]bool{"pause": pause})
	if err := d.opts.Control(ctx, w.AgentID, msg); err != nil {
		return driver.Fail(driver.Dependency, driver.CodeRuntimeDown, err, "could not reach agent %s over its control channel", w.Name)
	}
	// No instance event: the agent's own state change (SUSPENDED, RUNNING)
	// already says this, and one event per instance would double the events
	// of every suspend and resume.
	state := driver.InstancePaused
	if !pause {
		state = driver.InstanceReady
	}
	for _, in := range wl.instances {
		if in.running() {
			in.mu.Lock()
			in.state = state
			in.mu.Unlock()
		}
	}
	return nil
}

// Restart replaces the instances one at a time, each ready before the next,
// so the agent keeps serving.
func (d *Driver) Restart(ctx context.Context, w *driver.Workload) error {
	wl, err := d.get(w.AgentID)
	if err != nil {
		return err
	}
	for _, in := range wl.instances[:min(w.Replicas, len(wl.instances))] {
		in.stop()
		if err := in.start(wl.spec); err != nil {
			return err
		}
		if err := d.waitReady(ctx, []*instance{in}); err != nil {
			return err
		}
	}
	return nil
}

// Remove kills every instance and deletes the working directories.
func (d *Driver) Remove(ctx context.Context, w *driver.Workload) error {
	d.mu.Lock()
	wl := d.workloads[w.AgentID]
	delete(d.workloads, w.AgentID)
	d.mu.Unlock()
	if wl != nil {
		var wg sync.WaitGroup
		for _, in := range wl.instances {
			wg.Add(1)
			go func() { defer wg.Done(); in.stop() }()
		}
		wg.Wait()
	}
	if err := os.RemoveAll(filepath.Join(d.opts.DataDir, w.AgentID)); err != nil {
		return fmt.Errorf("remove working directories: %w", err)
	}
	return nil
}

// Instances implements driver.Driver.
func (d *Driver) Instances(ctx context.Context, w *driver.Workload) ([]driver.Instance, error) {
	d.mu.Lock()
	wl := d.workloads[w.AgentID]
	d.mu.Unlock()
	if wl == nil {
		return nil, nil
	}
	out := make([]driver.Instance, 0, len(wl.instances))
	for _, in := range wl.instances {
		out = append(out, in.snapshot())
	}
	return out, nil
}

// Logs implements driver.Driver.
func (d *Driver) Logs(ctx context.Context, w *driver.Workload, q driver.LogQuery) ([]driver.LogLine, error) {
	d.mu.Lock()
	wl := d.workloads[w.AgentID]
	d.mu.Unlock()
	if wl == nil {
		return nil, nil
	}
	var all []driver.LogLine
	for _, in := range wl.instances {
		if q.Instance == "" || q.Instance == in.id {
			all = append(all, in.logs.lines()...)
		}
	}
	return driver.SelectLogs(all, q), nil
}

// Close stops every instance; the service calls it when it shuts down so no
// agent process outlives it.
func (d *Driver) Close() {
	d.mu.Lock()
	d.closed = true
	var all []*instance
	for _, wl := range d.workloads {
		all = append(all, wl.instances...)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Add(1)
		go func() { defer wg.Done(); in.stop() }()
	}
	wg.Wait()
}

// instance is one supervised replica.
type instance struct {
	d       *Driver
	agentID string
	id      string
	dir     string
	port    atomic.Int64
	logs    *ring

	mu        sync.Mutex
	state     driver.InstanceState
	pid       int
	restarts  int
	startedAt time.Time
	lastExit  string
	exitCode  int
	crashes   []time.Time
	cancel    context.CancelFunc // stops the supervisor
	done      chan struct{}      // closed when the supervisor has returned
}

func (in *instance) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.FormatInt(in.port.Load(), 10))
}

func (in *instance) snapshot() driver.Instance {
	in.mu.Lock()
	defer in.mu.Unlock()
	h := ""
	if in.pid > 0 {
		h = strconv.Itoa(in.pid)
	}
	return driver.Instance{ID: in.id, State: in.state, Handle: h, Addr: in.addr(), Restarts: in.restarts,
		StartedAt: in.startedAt, LastExit: in.lastExit}
}

func (in *instance) running() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cancel != nil
}

func (in *instance) setState(s driver.InstanceState, reason string) {
	in.mu.Lock()
	changed := in.state != s
	in.state = s
	in.mu.Unlock()
	if changed && in.d.opts.OnInstance != nil {
		in.d.opts.OnInstance(in.agentID, in.snapshot(), reason)
	}
}

// start launches the supervisor unless it runs already.
func (in *instance) start(spec driver.Workload) error {
	in.mu.Lock()
	if in.cancel != nil {
		in.mu.Unlock()
		return nil
	}
	// A taken port is a configuration problem, not a crash to retry.
	if l, err := net.Listen("tcp", in.addr()); err != nil {
		in.mu.Unlock()
		return driver.Fail(driver.Configuration, driver.CodePortInUse, err, "port %d of instance %s is in use by another program", in.port.Load(), in.id).
			With("port", strconv.FormatInt(in.port.Load(), 10)).With("instance", in.id)
	} else {
		l.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel, in.done = cancel, make(chan struct{})
	in.restarts, in.crashes, in.lastExit, in.exitCode = 0, nil, "", 0
	in.state = driver.InstanceStarting
	done := in.done
	in.mu.Unlock()
	go func() {
		defer close(done)
		in.supervise(ctx, spec)
	}()
	return nil
}

// stop ends the supervisor and the process, gracefully first.
func (in *instance) stop() {
	in.mu.Lock()
	cancel, done := in.cancel, in.done
	in.cancel = nil
	in.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	in.setState(driver.InstanceStopped, "stopped")
}

// supervise runs the process until ctx ends, restarting it after a crash
// with exponential backoff.
func (in *instance) supervise(ctx context.Context, spec driver.Workload) {
	backoff := in.d.opts.BackoffInitial
	for {
		started := time.Now()
		err := in.runOnce(ctx, spec)
		if ctx.Err() != nil {
			return
		}
		// It exited on its own: a crash.
		now := time.Now()
		if now.Sub(started) >= in.d.opts.StableAfter {
			backoff = in.d.opts.BackoffInitial
		}
		in.mu.Lock()
		in.restarts++
		in.crashes = append(in.crashes, now)
		cut := 0
		for cut < len(in.crashes) && now.Sub(in.crashes[cut]) > in.d.opts.CrashLoopWindow {
			cut++
		}
		in.crashes = in.crashes[cut:]
		looping := len(in.crashes) >= in.d.opts.CrashLoopRestarts
		wasLooping := in.state == driver.InstanceCrashLooping
		in.mu.Unlock()
		in.d.opts.Logger.Warn("agent instance exited", "agent_id", in.agentID, "instance", in.id, "error", err, "restart_in", backoff)
		if looping {
			in.setState(driver.InstanceCrashLooping, "crash_looping")
			if !wasLooping && in.d.opts.OnCrashLoop != nil {
				in.d.opts.OnCrashLoop(in.agentID, in.failure(driver.Transient, driver.CodeCrashLoop,
					"instance %s crashed %d times in %s", in.id, len(in.crashes), in.d.opts.CrashLoopWindow))
			}
		} else {
			in.setState(driver.InstanceRestarting, "exited")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, in.d.opts.BackoffMax)
	}
}

// runOnce starts the process and waits for it to exit, or kills it (after a
// graceful SIGTERM) when ctx ends.
func (in *instance) runOnce(ctx context.Context, spec driver.Workload) error {
	cfg := []byte("{}")
	if spec.Config != nil {
		cfg, _ = json.Marshal(spec.Config) // a JSON object already
	}
	cmd := exec.Command(spec.Image, spec.Args...)
	cmd.Dir = in.dir
	cmd.Env = append(os.Environ()[:0:0], "PATH="+os.Getenv("PATH"), "HOME="+in.dir, "TMPDIR="+in.dir,
		driver.EnvAgentID+"="+spec.AgentID, driver.EnvAgentName+"="+spec.Name, driver.EnvAgentKind+"="+spec.Kind,
		driver.EnvVersion+"="+spec.Version, driver.EnvInstance+"="+in.id, driver.EnvAddr+"="+in.addr(),
		driver.EnvNATSURL+"="+spec.NATSURL, driver.EnvConfig+"="+string(cfg))
	cmd.Env = append(cmd.Env, limitHints(spec.Resources)...)
	for k, v := range spec.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// Own process group (killed as one), and SIGKILL from the kernel if the
	// service dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		in.recordExit(-1, err.Error())
		return fmt.Errorf("start %s: %w", spec.Image, err)
	}
	applyLimits(cmd.Process.Pid, spec.Resources, in.d.opts.Logger)
	in.mu.Lock()
	in.pid, in.startedAt = cmd.Process.Pid, time.Now()
	in.mu.Unlock()
	in.setState(driver.InstanceStarting, "started")

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); in.capture(stdout, "stdout") }()
	go func() { defer wg.Done(); in.capture(stderr, "stderr") }()
	exited := make(chan error, 1)
	go func() {
		wg.Wait() // Wait closes the pipes: read them to the end first
		exited <- cmd.Wait()
	}()

	select {
	case err := <-exited:
		in.recordExit(exitCode(err), describeExit(err))
		return err
	case <-ctx.Done():
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-exited:
		in.recordExit(exitCode(err), describeExit(err))
	case <-time.After(in.d.opts.StopTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err := <-exited
		in.recordExit(exitCode(err), describeExit(err)+" (killed after the stop timeout)")
	}
	return nil
}

func (in *instance) recordExit(code int, desc string) {
	in.mu.Lock()
	in.pid, in.lastExit, in.exitCode = 0, desc, code
	in.mu.Unlock()
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// capture reads one stream line by line into the ring and to OnLog.
func (in *instance) capture(r io.Reader, stream string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := driver.LogLine{Time: time.Now().UTC(), Instance: in.id, Stream: stream, Message: sc.Text()}
		line.Level = driver.LevelOf(sc.Text(), stream)
		in.logs.add(line)
		if in.d.opts.OnLog != nil {
			in.d.opts.OnLog(in.agentID, line)
		}
	}
}

// failure describes why the instance is failing, with its last lines.
func (in *instance) failure(class driver.Class, code, format string, args ...any) *driver.Failure {
	f := driver.Fail(class, code, nil, format, args...).With("instance", in.id)
	in.mu.Lock()
	if in.lastExit != "" {
		f.With("last_exit", in.lastExit)
	}
	in.mu.Unlock()
	if tail := in.logs.tail(10); tail != "" {
		f.With("logs", tail)
	}
	return f
}

// exitFailure classifies an exit during start from what the process said.
func (in *instance) exitFailure() *driver.Failure {
	tail := in.logs.tail(20)
	switch {
	case containsAny(tail, "address already in use", "bind: "):
		return in.failure(driver.Configuration, driver.CodePortInUse, "instance %s could not listen on port %d", in.id, in.port.Load()).
			With("port", strconv.FormatInt(in.port.Load(), 10))
	case containsAny(tail, "cannot allocate memory", "out of memory", "fatal error: runtime"):
		return in.failure(driver.Configuration, driver.CodeInvalidLimits, "instance %s ran out of memory while starting", in.id)
	default:
		return in.failure(driver.Transient, driver.CodeExitedOnStart, "instance %s exited while starting", in.id)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// limitHints tell a Go agent's runtime about its limits (GOMEMLIMIT keeps the
// heap under the memory limit; GOMAXPROCS matches the CPU share).
func limitHints(r driver.Resources) []string {
	var env []string
	if r.MemoryBytes > 0 {
		env = append(env, "GOMEMLIMIT="+strconv.FormatInt(r.MemoryBytes*9/10, 10))
	}
	if r.CPUMillis > 0 {
		env = append(env, "GOMAXPROCS="+strconv.FormatInt(max(1, (r.CPUMillis+999)/1000), 10))
	}
	return env
}

// applyLimits caps the process's memory with RLIMIT_DATA (private writable
// memory: a Go program's heap and stacks; RLIMIT_AS would also count the
// address space Go reserves but never uses, and kill it at start). cgroup v2
// would also cap CPU, but needs a delegated, writable hierarchy that this
// service does not assume.
func applyLimits(pid int, r driver.Resources, logger *slog.Logger) {
	if r.MemoryBytes <= 0 {
		return
	}
	lim := &unix.Rlimit{Cur: uint64(r.MemoryBytes), Max: uint64(r.MemoryBytes)}
	if err := unix.Prlimit(pid, unix.RLIMIT_DATA, lim, nil); err != nil {
		logger.Warn("could not limit agent memory", "pid", pid, "error", err)
	}
}

func cloneSpec(w *driver.Workload) driver.Workload {
	c := *w
	c.Ports = append([]int(nil), w.Ports...)
	c.Args = append([]string(nil), w.Args...)
	return c
}
