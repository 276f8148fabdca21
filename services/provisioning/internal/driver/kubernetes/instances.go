package kubernetes

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// Instances reports the agent's pods, by name.
func (d *Driver) Instances(ctx context.Context, w *driver.Workload) ([]driver.Instance, error) {
	pods, err := d.pods(ctx, w)
	if err != nil {
		return nil, err
	}
	out := make([]driver.Instance, 0, len(pods))
	for _, p := range pods {
		out = append(out, instance(p))
	}
	return out, nil
}

// instanceID is the pod name's random suffix ("x2k9p" of
// "agent-echo-5d8f9c7b6a-x2k9p"): unique among the agent's pods and short.
func instanceID(pod string) string {
	if i := strings.LastIndexByte(pod, '-'); i >= 0 && i < len(pod)-1 {
		return pod[i+1:]
	}
	return pod
}

func instance(p corev1.Pod) driver.Instance {
	inst := driver.Instance{ID: instanceID(p.Name), Handle: p.Name, State: driver.InstanceStarting}
	if p.Status.PodIP != "" {
		inst.Addr = net.JoinHostPort(p.Status.PodIP, strconv.Itoa(driver.ContainerPort))
	}
	if p.Status.StartTime != nil {
		inst.StartedAt = p.Status.StartTime.Time
	}
	var cs *corev1.ContainerStatus
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName {
			cs = &p.Status.ContainerStatuses[i]
		}
	}
	if cs != nil {
		inst.Restarts = int(cs.RestartCount)
		if r := cs.State.Running; r != nil {
			inst.StartedAt = r.StartedAt.Time
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			inst.LastExit = exitText(t)
		}
	}
	switch {
	case p.DeletionTimestamp != nil, p.Status.Phase == corev1.PodSucceeded, p.Status.Phase == corev1.PodFailed:
		inst.State = driver.InstanceStopped
	case cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == reasonCrashLoop:
		inst.State = driver.InstanceCrashLooping
	case podReady(p):
		inst.State = driver.InstanceReady
	case cs != nil && cs.State.Running != nil && cs.Started != nil && *cs.Started:
		// Up and past its startup probe, but failing readiness.
		inst.State = driver.InstanceUnready
	case cs != nil && cs.RestartCount > 0 && cs.State.Running == nil:
		inst.State = driver.InstanceRestarting
	}
	return inst
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Logs returns the newest lines of the agent's pods that match q, oldest
// first. Kubernetes merges a container's stdout and stderr into one log, so
// lines have no Stream and non-JSON lines are info.
func (d *Driver) Logs(ctx context.Context, w *driver.Workload, q driver.LogQuery) ([]driver.LogLine, error) {
	limit := q.LimitOrDefault()
	// Reading only Limit lines and then dropping those below MinLevel would
	// return too few; read further back when a filter applies.
	tail := int64(limit)
	if q.MinLevel != "" && driver.LevelRank(q.MinLevel) > 0 {
		tail = int64(max(limit, d.opts.LogScanLines))
	}
	pods, err := d.pods(ctx, w)
	if err != nil {
		return nil, err
	}
	var lines []driver.LogLine
	for _, p := range pods {
		id := instanceID(p.Name)
		if q.Instance != "" && q.Instance != id && q.Instance != p.Name {
			continue
		}
		raw, err := d.cs.CoreV1().Pods(d.opts.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
			Container:  containerName,
			Timestamps: true,
			TailLines:  &tail,
		}).DoRaw(ctx)
		if apierrors.IsNotFound(err) || apierrors.IsBadRequest(err) {
			// Gone since the list, or its container has not started yet: no
			// logs to read.
			continue
		}
		if err != nil {
			return nil, d.apiErr(err, "read logs of pod %s/%s", d.opts.Namespace, p.Name)
		}
		lines = append(lines, parseLines(string(raw), id)...)
	}
	return driver.SelectLogs(lines, q), nil
}

// parseLines splits a pod log read with timestamps=true: each line is
// "<RFC 3339 time> <text>". A line without a time keeps the zero time.
func parseLines(raw, instance string) []driver.LogLine {
	var out []driver.LogLine
	for text := range strings.Lines(raw) {
		text = strings.TrimRight(text, "\r\n")
		var t time.Time
		if ts, rest, ok := strings.Cut(text, " "); ok {
			if parsed, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				t, text = parsed, rest
			}
		}
		out = append(out, driver.LogLine{Time: t, Instance: instance, Level: driver.LevelOf(text, ""), Message: text})
	}
	return out
}
