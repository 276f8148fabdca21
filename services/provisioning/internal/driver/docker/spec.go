package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

const (
	// minMemoryBytes is the smallest memory limit the engine accepts.
	minMemoryBytes = 6 << 20
	// minCPUMillis is the smallest CPU limit the engine accepts (NanoCPUs
	// range from 0.01 CPU).
	minCPUMillis = 10
)

// Healthcheck is what the engine runs in each container to decide whether it
// is healthy; agentkit's binary answers `agent healthcheck` by probing its own
// readiness endpoint.
var healthcheck = container.HealthConfig{
	Test:        []string{"CMD", "agent", "healthcheck"},
	Interval:    2 * time.Second,
	Timeout:     2 * time.Second,
	Retries:     3,
	StartPeriod: 5 * time.Second,
}

// containerPort is driver.ContainerPort as the engine names it.
var containerPort, _ = network.PortFrom(driver.ContainerPort, network.TCP)

// ContainerName is the name of replica i's container.
func ContainerName(w *driver.Workload, i int) string {
	return fmt.Sprintf("portal-%s-%d", w.Name, i)
}

// validate rejects, before the engine is called, what the engine would refuse
// anyway or what makes no sense, so the failure names the setting at fault.
func validate(w *driver.Workload) error {
	limits := func(format string, args ...any) *driver.Failure {
		return driver.Fail(driver.Configuration, driver.CodeInvalidLimits, nil, format, args...).
			With("cpu_millis", strconv.FormatInt(w.Resources.CPUMillis, 10)).
			With("memory_bytes", strconv.FormatInt(w.Resources.MemoryBytes, 10))
	}
	switch r := w.Resources; {
	case r.MemoryBytes < 0:
		return limits("memory limit %d is negative", r.MemoryBytes)
	case r.MemoryBytes > 0 && r.MemoryBytes < minMemoryBytes:
		return limits("memory limit %d bytes is below docker's minimum of 6 MiB", r.MemoryBytes).
			With("minimum_bytes", strconv.Itoa(minMemoryBytes))
	case r.CPUMillis < 0:
		return limits("cpu limit %dm is negative", r.CPUMillis)
	case r.CPUMillis > 0 && r.CPUMillis < minCPUMillis:
		return limits("cpu limit %dm is below docker's minimum of %dm", r.CPUMillis, minCPUMillis).
			With("minimum_cpu_millis", strconv.Itoa(minCPUMillis))
	}
	if w.Replicas < 1 {
		return driver.Fail(driver.Configuration, driver.CodeInvalidLimits, nil,
			"replicas is %d; an agent runs at least one", w.Replicas).With("replicas", strconv.Itoa(w.Replicas))
	}
	if w.Image == "" {
		return driver.Fail(driver.Configuration, driver.CodeImageNotFound, nil, "agent %s has no image", w.Name)
	}
	return nil
}

// ensureImage makes sure the engine has image, pulling it only when allowed.
func (d *Driver) ensureImage(ctx context.Context, image string) error {
	_, err := d.cli.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return nil
	case !cerrdefs.IsNotFound(err):
		return d.engineErr(err, "inspect image %s", image)
	case !d.opts.Pull:
		return driver.Fail(driver.Configuration, driver.CodeImageNotFound, err,
			"image %s is not on the docker engine", image).With("image", image)
	}
	pull, err := d.cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err == nil {
		defer pull.Close()
		// Errors after the pull began arrive in the progress stream.
		err = pull.Wait(ctx)
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil, client.IsErrConnectionFailed(err):
		return d.engineErr(err, "pull image %s", image)
	default:
		// Unknown repository or tag, no access, bad reference: all mean the
		// configured image cannot be had.
		return driver.Fail(driver.Configuration, driver.CodeImageNotFound, err,
			"image %s could not be pulled", image).With("image", image)
	}
}

// createOptions is the container for replica i.
func createOptions(w *driver.Workload, i int, opts Options) (client.ContainerCreateOptions, error) {
	env, err := environment(w, i)
	if err != nil {
		return client.ContainerCreateOptions{}, err
	}
	hc := healthcheck
	stop := int(opts.StopTimeout / time.Second)
	cfg := &container.Config{
		Image:        w.Image,
		Cmd:          w.Args,
		Env:          env,
		Labels:       labels(w, i),
		ExposedPorts: network.PortSet{containerPort: {}},
		Healthcheck:  &hc,
		StopTimeout:  &stop,
	}
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{
			Name:              container.RestartPolicyOnFailure,
			MaximumRetryCount: opts.MaxRestarts,
		},
		Resources: container.Resources{
			NanoCPUs: w.Resources.CPUMillis * 1_000_000,
			Memory:   w.Resources.MemoryBytes,
		},
	}
	if w.Resources.MemoryBytes > 0 {
		// Without a swap limit the engine lets a container swap as much again
		// as its memory limit, which makes the limit meaningless.
		host.MemorySwap = w.Resources.MemoryBytes
	}
	if i < len(w.Ports) && w.Ports[i] > 0 {
		host.PortBindings = network.PortMap{containerPort: {{HostIP: opts.HostIP, HostPort: strconv.Itoa(w.Ports[i])}}}
	}
	return client.ContainerCreateOptions{Name: ContainerName(w, i), Config: cfg, HostConfig: host}, nil
}

// labels are the container's labels: who it is, then the agent's own.
func labels(w *driver.Workload, i int) map[string]string {
	l := make(map[string]string, len(w.Labels)+3)
	for k, v := range w.Labels {
		l[LabelPrefix+k] = v
	}
	l[LabelAgentID] = w.AgentID
	l[LabelAgentName] = w.Name
	l[LabelInstance] = strconv.Itoa(i)
	return l
}

// environment is the agent contract for replica i followed by w.Env, sorted by
// name. The contract wins over w.Env: AGENT_ADDR must be the port the driver
// publishes, and the identity variables must be the driver's.
func environment(w *driver.Workload, i int) ([]string, error) {
	cfg := w.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, err,
			"agent %s config cannot be encoded as JSON", w.Name)
	}
	contract := map[string]string{
		driver.EnvAgentID:   w.AgentID,
		driver.EnvAgentName: w.Name,
		driver.EnvAgentKind: w.Kind,
		driver.EnvVersion:   w.Version,
		driver.EnvInstance:  strconv.Itoa(i),
		driver.EnvAddr:      fmt.Sprintf("0.0.0.0:%d", driver.ContainerPort),
		driver.EnvConfig:    string(config),
		driver.EnvNATSURL:   w.NATSURL,
	}
	env := make([]string, 0, len(contract)+len(w.Env))
	for _, k := range slices.Sorted(maps.Keys(contract)) {
		env = append(env, k+"="+contract[k])
	}
	for _, k := range slices.Sorted(maps.Keys(w.Env)) {
		if _, ok := contract[k]; !ok {
			env = append(env, k+"="+w.Env[k])
		}
	}
	return env, nil
}

// portTaken matches the engine's messages for a host port it cannot bind:
// taken by another container ("Bind for 127.0.0.1:8081 failed: port is
// already allocated") or by another process ("listen tcp4 127.0.0.1:8081:
// bind: address already in use").
var portTaken = regexp.MustCompile(`:(\d+)(?: failed: port is already allocated|: bind: address already in use)`)

// portFailure is a PORT_IN_USE failure when err says replica i's port is
// taken, nil otherwise.
func portFailure(err error, w *driver.Workload, i int) *driver.Failure {
	m := portTaken.FindStringSubmatch(err.Error())
	if m == nil {
		return nil
	}
	return driver.Fail(driver.Configuration, driver.CodePortInUse, err,
		"host port %s of instance %d is already in use", m[1], i).
		With("port", m[1]).With("instance", strconv.Itoa(i))
}
