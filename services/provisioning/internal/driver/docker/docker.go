// Package docker runs agent workloads as Docker containers, one container per
// replica, through the Docker Engine API (github.com/moby/moby/client).
//
// The driver keeps no state of its own: every container carries labels naming
// its agent and replica slot, and each method finds the agent's containers
// again by label. That is what makes every method safe to repeat.
package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// Labels on every container the driver creates.
const (
	LabelAgentID   = "platformportal.dev/agent-id"
	LabelAgentName = "platformportal.dev/agent-name"
	LabelInstance  = "platformportal.dev/instance"
	// LabelPrefix prefixes the workload's own labels.
	LabelPrefix = "platformportal.dev/label-"
)

// Options tune the driver; the zero value is usable.
type Options struct {
	// Pull pulls an image the engine does not have. It is off by default:
	// the platform pre-pulls agent images and the engines it runs on have no
	// registry to pull from, so a missing image is reported at once as
	// IMAGE_NOT_FOUND rather than after a pull that can only fail slowly.
	Pull bool
	// HostIP is where instance ports are published (default 127.0.0.1, so
	// agents are reachable from the host only).
	HostIP netip.Addr
	// PollInterval is how often Start, Resume and Restart inspect containers
	// while waiting for them to become healthy (default 500ms).
	PollInterval time.Duration
	// ReadyTimeout bounds each wait for health, within ctx (default 2m).
	ReadyTimeout time.Duration
	// StopTimeout is how long the engine waits after SIGTERM before it kills
	// an instance (default 10s).
	StopTimeout time.Duration
	// MaxRestarts is the on-failure restart policy's retry count (default 3).
	MaxRestarts int
	// ExitLogLines is how many of its last lines a failure reports for an
	// instance that exited (default 20).
	ExitLogLines int
	// LogScanLines is how many lines per instance Logs reads when it filters
	// by level, so that a filter still finds Limit matching lines (default
	// 2000).
	LogScanLines int
}

func (o Options) withDefaults() Options {
	if !o.HostIP.IsValid() {
		o.HostIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 2 * time.Minute
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.MaxRestarts <= 0 {
		o.MaxRestarts = 3
	}
	if o.ExitLogLines <= 0 {
		o.ExitLogLines = 20
	}
	if o.LogScanLines <= 0 {
		o.LogScanLines = 2000
	}
	return o
}

// Driver runs workloads on one Docker engine.
type Driver struct {
	cli  *client.Client
	opts Options
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver over cli; opts' zero fields take their defaults.
func New(cli *client.Client, opts Options) *Driver {
	return &Driver{cli: cli, opts: opts.withDefaults()}
}

// Name is "docker".
func (d *Driver) Name() string { return "docker" }

// Deploy checks the image and creates one container per replica. A container
// that already exists under the replica's name is kept, and containers of
// replica slots beyond w.Replicas (left by a larger deployment) are removed.
func (d *Driver) Deploy(ctx context.Context, w *driver.Workload) error {
	if err := validate(w); err != nil {
		return err
	}
	if err := d.ensureImage(ctx, w.Image); err != nil {
		return err
	}
	for i := range w.Replicas {
		opts, err := createOptions(w, i, d.opts)
		if err != nil {
			return err
		}
		_, err = d.cli.ContainerCreate(ctx, opts)
		switch {
		case err == nil:
		case cerrdefs.IsConflict(err):
			// The name is taken: by this replica from an earlier Deploy (keep
			// it), or by something else (refuse rather than adopt it).
			if err := d.checkOwner(ctx, w, opts.Name); err != nil {
				return err
			}
		case cerrdefs.IsInvalidArgument(err):
			return driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, err,
				"docker engine refused container %s", opts.Name).With("container", opts.Name)
		case cerrdefs.IsNotFound(err):
			// The image went away between the inspect and the create.
			return driver.Fail(driver.Configuration, driver.CodeImageNotFound, err,
				"image %s is not on the docker engine", w.Image).With("image", w.Image)
		default:
			return d.engineErr(err, "create container %s", opts.Name)
		}
	}
	ctrs, err := d.list(ctx, w)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		if c.instance >= w.Replicas {
			if err := d.remove(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkOwner makes sure the existing container called name belongs to w.
func (d *Driver) checkOwner(ctx context.Context, w *driver.Workload, name string) error {
	res, err := d.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return d.engineErr(err, "inspect existing container %s", name)
	}
	var owner string
	if cfg := res.Container.Config; cfg != nil {
		owner = cfg.Labels[LabelAgentID]
	}
	if owner != w.AgentID {
		return driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, nil,
			"container name %s is taken by a container that is not this agent's", name).
			With("container", name).With("owner", owner)
	}
	return nil
}

// Start starts every replica's container and waits until all are healthy.
func (d *Driver) Start(ctx context.Context, w *driver.Workload) error {
	ctrs, err := d.deployed(ctx, w)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		if err := d.start(ctx, w, c); err != nil {
			return err
		}
	}
	return d.waitHealthy(ctx, ctrs)
}

func (d *Driver) start(ctx context.Context, w *driver.Workload, c ctr) error {
	var err error
	if c.State == container.StatePaused {
		// The engine refuses to start a paused container; unpausing is what
		// running it means.
		_, err = d.cli.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{})
	} else {
		// A running container answers 304, which the client treats as success.
		_, err = d.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{})
	}
	if err == nil {
		return nil
	}
	if f := portFailure(err, w, c.instance); f != nil {
		return f
	}
	if cerrdefs.IsNotFound(err) {
		return notDeployed(w, err)
	}
	return d.engineErr(err, "start container %s", c.name())
}

// Stop stops every container gracefully (SIGTERM, then SIGKILL after
// StopTimeout), all at once so that stopping takes one timeout, not one per
// replica.
func (d *Driver) Stop(ctx context.Context, w *driver.Workload) error {
	ctrs, err := d.list(ctx, w)
	if err != nil {
		return err
	}
	timeout := int(d.opts.StopTimeout / time.Second)
	return each(ctrs, func(c ctr) error {
		_, err := d.cli.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &timeout})
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		return d.engineErr(err, "stop container %s", c.name())
	})
}

// Suspend pauses every container: the processes stay in memory (warm) but get
// no CPU, so the agent takes no work until Resume.
func (d *Driver) Suspend(ctx context.Context, w *driver.Workload) error {
	ctrs, err := d.deployed(ctx, w)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		switch c.State {
		case container.StatePaused:
			continue
		case container.StateRunning, container.StateRestarting:
		default:
			return driver.Fail(driver.Permanent, driver.CodeRuntimeRejected, nil,
				"instance %d is %s, so it cannot be suspended", c.instance, c.State).
				With("instance", strconv.Itoa(c.instance)).With("state", string(c.State))
		}
		if _, err := d.cli.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{}); err != nil {
			return d.engineErr(err, "pause container %s", c.name())
		}
	}
	return nil
}

// Resume unpauses every paused container and waits until all are healthy.
func (d *Driver) Resume(ctx context.Context, w *driver.Workload) error {
	ctrs, err := d.deployed(ctx, w)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		switch c.State {
		case container.StateRunning:
			continue
		case container.StatePaused:
		default:
			return driver.Fail(driver.Permanent, driver.CodeRuntimeRejected, nil,
				"instance %d is %s, so it cannot be resumed", c.instance, c.State).
				With("instance", strconv.Itoa(c.instance)).With("state", string(c.State))
		}
		if _, err := d.cli.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{}); err != nil {
			return d.engineErr(err, "unpause container %s", c.name())
		}
	}
	return d.waitHealthy(ctx, ctrs)
}

// Restart restarts the containers one at a time, each healthy before the
// next, so that the agent keeps Replicas-1 instances serving throughout.
func (d *Driver) Restart(ctx context.Context, w *driver.Workload) error {
	ctrs, err := d.deployed(ctx, w)
	if err != nil {
		return err
	}
	timeout := int(d.opts.StopTimeout / time.Second)
	for _, c := range ctrs {
		if _, err := d.cli.ContainerRestart(ctx, c.ID, client.ContainerRestartOptions{Timeout: &timeout}); err != nil {
			if f := portFailure(err, w, c.instance); f != nil {
				return f
			}
			return d.engineErr(err, "restart container %s", c.name())
		}
		if err := d.waitHealthy(ctx, []ctr{c}); err != nil {
			return err
		}
	}
	return nil
}

// Remove force-removes every container of the agent, with its anonymous
// volumes. Containers already gone are fine.
func (d *Driver) Remove(ctx context.Context, w *driver.Workload) error {
	ctrs, err := d.list(ctx, w)
	if err != nil {
		return err
	}
	return each(ctrs, func(c ctr) error { return d.remove(ctx, c) })
}

func (d *Driver) remove(ctx context.Context, c ctr) error {
	_, err := d.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	return d.engineErr(err, "remove container %s", c.name())
}

// ctr is a container of the agent with its replica slot.
type ctr struct {
	container.Summary
	instance int
}

func (c ctr) name() string {
	if len(c.Names) > 0 {
		return c.Names[0][1:] // the engine reports names with a leading "/"
	}
	return c.ID
}

// list returns the agent's containers in any state, by replica slot.
func (d *Driver) list(ctx context.Context, w *driver.Workload) ([]ctr, error) {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelAgentID+"="+w.AgentID),
	})
	if err != nil {
		return nil, d.engineErr(err, "list containers of agent %s", w.AgentID)
	}
	out := make([]ctr, 0, len(res.Items))
	for _, s := range res.Items {
		i, err := strconv.Atoi(s.Labels[LabelInstance])
		if err != nil {
			// Not one of ours after all (someone reused the agent label); leave it.
			continue
		}
		out = append(out, ctr{Summary: s, instance: i})
	}
	slices.SortFunc(out, func(a, b ctr) int { return cmp.Compare(a.instance, b.instance) })
	return out, nil
}

// deployed is list, failing with NOT_DEPLOYED when a replica has no container.
func (d *Driver) deployed(ctx context.Context, w *driver.Workload) ([]ctr, error) {
	ctrs, err := d.list(ctx, w)
	if err != nil {
		return nil, err
	}
	have := make(map[int]bool, len(ctrs))
	for _, c := range ctrs {
		have[c.instance] = true
	}
	for i := range max(w.Replicas, 1) {
		if !have[i] {
			return nil, notDeployed(w, nil).With("instance", strconv.Itoa(i))
		}
	}
	return ctrs, nil
}

func notDeployed(w *driver.Workload, err error) *driver.Failure {
	return driver.Fail(driver.Permanent, driver.CodeNotDeployed, err,
		"agent %s has no container for every replica; deploy it first", w.Name)
}

// each runs fn for every container concurrently and joins the errors.
func each(ctrs []ctr, fn func(ctr) error) error {
	errs := make([]error, len(ctrs))
	var wg sync.WaitGroup
	for i, c := range ctrs {
		wg.Go(func() { errs[i] = fn(c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// engineErr wraps an engine error with what was being done, classifying the
// causes the provisioning service explains.
func (d *Driver) engineErr(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if client.IsErrConnectionFailed(err) || cerrdefs.IsUnavailable(err) {
		return driver.Fail(driver.Dependency, driver.CodeRuntimeDown, err,
			"docker engine is unreachable (%s)", what).With("host", d.cli.DaemonHost())
	}
	return fmt.Errorf("%s: %w", what, err)
}
