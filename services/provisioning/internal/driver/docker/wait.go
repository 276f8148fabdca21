package docker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// waitHealthy inspects ctrs every PollInterval until the engine reports all of
// them healthy. It fails early when one exits (EXITED_ON_START) or turns
// unhealthy (NOT_READY), and with NOT_READY when ctx or ReadyTimeout ends.
func (d *Driver) waitHealthy(ctx context.Context, ctrs []ctr) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.ReadyTimeout)
	defer cancel()
	pending := append([]ctr(nil), ctrs...)
	for {
		var still []ctr
		for _, c := range pending {
			res, err := d.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			if err != nil {
				if ctx.Err() != nil {
					return notReady(ctx, pending)
				}
				return d.engineErr(err, "inspect container %s", c.name())
			}
			ready, err := d.healthy(ctx, c, res.Container)
			if err != nil {
				return err
			}
			if !ready {
				still = append(still, c)
			}
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return notReady(ctx, pending)
		case <-time.After(d.opts.PollInterval):
		}
	}
}

// healthy reports whether c is up and healthy, or the failure that ends the
// wait.
func (d *Driver) healthy(ctx context.Context, c ctr, in container.InspectResponse) (bool, error) {
	st := in.State
	if st == nil {
		return false, nil
	}
	switch st.Status {
	case container.StateExited, container.StateDead:
		// The restart policy gave up (or there was none to try): this
		// instance is not coming up by itself.
		return false, driver.Fail(driver.Transient, driver.CodeExitedOnStart, nil,
			"instance %d exited with status %d while starting", c.instance, st.ExitCode).
			With("instance", strconv.Itoa(c.instance)).
			With("exit_code", strconv.Itoa(st.ExitCode)).
			With("restarts", strconv.Itoa(in.RestartCount)).
			With("logs", d.lastLines(ctx, c.ID))
	case container.StateRunning:
	default:
		// created, restarting (between policy restarts), paused: not yet.
		return false, nil
	}
	if st.Health == nil {
		// No healthcheck (an image that disables ours): running is all we know.
		return true, nil
	}
	switch st.Health.Status {
	case container.Healthy:
		return true, nil
	case container.Unhealthy:
		f := driver.Fail(driver.Transient, driver.CodeNotReady, nil,
			"instance %d failed its healthcheck %d times in a row", c.instance, st.Health.FailingStreak).
			With("instance", strconv.Itoa(c.instance))
		if n := len(st.Health.Log); n > 0 {
			f = f.With("healthcheck_output", strings.TrimSpace(st.Health.Log[n-1].Output))
		}
		return false, f
	}
	return false, nil
}

func notReady(ctx context.Context, pending []ctr) error {
	ids := make([]string, len(pending))
	for i, c := range pending {
		ids[i] = strconv.Itoa(c.instance)
	}
	return driver.Fail(driver.Transient, driver.CodeNotReady, context.Cause(ctx),
		"instances %s did not become healthy in time", strings.Join(ids, ", ")).
		With("instances", strings.Join(ids, ","))
}

// lastLines is the end of a container's output, for failure details. It is
// best effort: a failure to read logs must not hide the failure they explain.
func (d *Driver) lastLines(ctx context.Context, id string) string {
	lines, err := d.containerLogs(ctx, ctr{Summary: container.Summary{ID: id}}, d.opts.ExitLogLines)
	if err != nil {
		return fmt.Sprintf("(logs unavailable: %v)", err)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Message)
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Instances reports each replica's container.
func (d *Driver) Instances(ctx context.Context, w *driver.Workload) ([]driver.Instance, error) {
	ctrs, err := d.list(ctx, w)
	if err != nil {
		return nil, err
	}
	out := make([]driver.Instance, 0, len(ctrs))
	for _, c := range ctrs {
		res, err := d.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue // removed since the list
		}
		if err != nil {
			return nil, d.engineErr(err, "inspect container %s", c.name())
		}
		out = append(out, instance(c, res.Container, d.opts.MaxRestarts))
	}
	return out, nil
}

func instance(c ctr, in container.InspectResponse, maxRestarts int) driver.Instance {
	inst := driver.Instance{
		ID:       strconv.Itoa(c.instance),
		Handle:   in.ID,
		Restarts: in.RestartCount,
		State:    driver.InstanceStopped,
	}
	if ns := in.NetworkSettings; ns != nil {
		if b := ns.Ports[containerPort]; len(b) > 0 && b[0].HostPort != "" {
			inst.Addr = net.JoinHostPort(b[0].HostIP.String(), b[0].HostPort)
		}
	}
	st := in.State
	if st == nil {
		return inst
	}
	inst.StartedAt = engineTime(st.StartedAt)
	if !engineTime(st.FinishedAt).IsZero() {
		inst.LastExit = fmt.Sprintf("exit status %d", st.ExitCode)
		if st.OOMKilled {
			inst.LastExit += " (out of memory)"
		}
	}
	switch st.Status {
	case container.StateRunning:
		inst.State = driver.InstanceReady
		if st.Health != nil {
			switch st.Health.Status {
			case container.Starting:
				inst.State = driver.InstanceStarting
			case container.Unhealthy:
				inst.State = driver.InstanceUnready
			}
		}
	case container.StatePaused:
		inst.State = driver.InstancePaused
	case container.StateRestarting:
		inst.State = driver.InstanceRestarting
		if in.RestartCount > 1 {
			inst.State = driver.InstanceCrashLooping
		}
	case container.StateExited, container.StateDead:
		// The restart policy gave up on an instance that kept failing.
		if st.ExitCode != 0 && in.RestartCount >= maxRestarts {
			inst.State = driver.InstanceCrashLooping
		}
	}
	return inst
}

// engineTime parses the engine's RFC 3339 times; "0001-01-01T00:00:00Z" (never)
// and anything unparsable are the zero time.
func engineTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}
