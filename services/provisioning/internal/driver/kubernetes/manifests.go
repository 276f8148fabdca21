package kubernetes

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// Labels on the Deployment, its pods and the Service.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelAgentID   = "platformportal.dev/agent-id"
	// LabelPrefix prefixes the workload's own labels.
	LabelPrefix = "platformportal.dev/label-"

	managedBy = "platform-portal"
	// restartedAt is the pod template annotation `kubectl rollout restart`
	// sets; changing it rolls every pod.
	restartedAt = "kubectl.kubernetes.io/restartedAt"

	containerName = "agent"
	portName      = "http"
	// minMemoryBytes is the smallest memory limit container runtimes accept
	// (runc refuses less than a few MiB; 4Mi is where the kubelet's own
	// checks stop complaining).
	minMemoryBytes = 4 << 20
)

// ObjectName is the name of the agent's Deployment and Service.
func ObjectName(w *driver.Workload) string { return "agent-" + w.Name }

// selector picks the agent's pods. It is immutable on a Deployment, so it
// holds only what never changes for an agent.
func selector(w *driver.Workload) map[string]string {
	return map[string]string{LabelName: "agent", LabelInstance: w.Name}
}

// objectLabels are the selector plus who manages the objects and the agent's own
// labels. Agent labels that are not valid Kubernetes labels are left out: the
// API server would refuse the whole object for them, and they only describe.
func objectLabels(w *driver.Workload) map[string]string {
	l := selector(w)
	l[LabelManagedBy] = managedBy
	l[LabelAgentID] = w.AgentID
	for k, v := range w.Labels {
		key := LabelPrefix + k
		if len(validation.IsQualifiedName(key)) == 0 && len(validation.IsValidLabelValue(v)) == 0 {
			l[key] = v
		}
	}
	return l
}

// validate rejects, before the API is called, what the cluster would refuse
// or what cannot run, so the failure names the setting at fault.
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
		return limits("memory limit %d bytes is below the minimum of 4Mi", r.MemoryBytes).
			With("minimum_bytes", strconv.Itoa(minMemoryBytes))
	case r.CPUMillis < 0:
		return limits("cpu limit %dm is negative", r.CPUMillis)
	}
	if errs := validation.IsDNS1035Label(ObjectName(w)); len(errs) > 0 {
		return driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, nil,
			"agent name %q does not make a valid object name: %s", w.Name, errs[0]).With("name", ObjectName(w))
	}
	if w.Image == "" {
		return driver.Fail(driver.Configuration, driver.CodeImageNotFound, nil, "agent %s has no image", w.Name)
	}
	return nil
}

// deployment renders the agent's Deployment with the given replica count.
func deployment(w *driver.Workload, opts Options, replicas int32) (*appsv1.Deployment, error) {
	env, err := environment(w)
	if err != nil {
		return nil, err
	}
	maxUnavailable, maxSurge := intstr.FromInt32(0), intstr.FromInt32(1)
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ObjectName(w),
			Namespace: opts.Namespace,
			Labels:    objectLabels(w),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector(w)},
			// Surge one pod and never go below Replicas ready: a restart or an
			// update replaces the pods one at a time, each ready first.
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: &maxUnavailable,
					MaxSurge:       &maxSurge,
				},
			},
			RevisionHistoryLimit: new(int32(3)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: objectLabels(w)},
				Spec:       podSpec(w, opts, env),
			},
		},
	}, nil
}

func podSpec(w *driver.Workload, opts Options, env []corev1.EnvVar) corev1.PodSpec {
	res := resources(w.Resources)
	return corev1.PodSpec{
		// Agents talk to NATS and the portal, never to the Kubernetes API.
		AutomountServiceAccountToken:  new(false),
		TerminationGracePeriodSeconds: new(int64(30)),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   new(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:            containerName,
			Image:           w.Image,
			ImagePullPolicy: opts.ImagePullPolicy,
			Args:            w.Args,
			Env:             env,
			Ports: []corev1.ContainerPort{{
				Name:          portName,
				ContainerPort: driver.ContainerPort,
				Protocol:      corev1.ProtocolTCP,
			}},
			// The startup probe gives a slow agent a minute before liveness
			// may kill it; liveness then restarts a wedged agent; readiness
			// takes an agent that cannot work (NATS down) out of the Service.
			StartupProbe:   probe("/healthz", 2, 30),
			LivenessProbe:  probe("/healthz", 10, 3),
			ReadinessProbe: probe("/readyz", 5, 3),
			Resources:      corev1.ResourceRequirements{Requests: res, Limits: res.DeepCopy()},
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             new(true),
				ReadOnlyRootFilesystem:   new(true),
				AllowPrivilegeEscalation: new(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			// The root filesystem is read-only; agents get a scratch /tmp.
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
		}},
		Volumes: []corev1.Volume{{
			Name:         "tmp",
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
		}},
	}
}

func probe(path string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(portName), Scheme: corev1.URISchemeHTTP},
		},
		PeriodSeconds:    period,
		TimeoutSeconds:   2,
		SuccessThreshold: 1,
		FailureThreshold: failures,
	}
}

// resources are the limits as a resource list; zero means no limit, so no
// entry. Requests equal limits, which gives the pod Guaranteed QoS when both
// are set: agents are not evicted first under node pressure.
func resources(r driver.Resources) corev1.ResourceList {
	l := corev1.ResourceList{}
	if r.CPUMillis > 0 {
		l[corev1.ResourceCPU] = *resource.NewMilliQuantity(r.CPUMillis, resource.DecimalSI)
	}
	if r.MemoryBytes > 0 {
		l[corev1.ResourceMemory] = *resource.NewQuantity(r.MemoryBytes, resource.BinarySI)
	}
	if len(l) == 0 {
		return nil
	}
	return l
}

// environment is the agent contract plus w.Env, sorted by name so that the
// rendered template (and so the rollout it triggers) only changes when a value
// does. The contract wins over w.Env: AGENT_ADDR must be the port the probes
// and the Service use, and the identity variables must be the driver's.
func environment(w *driver.Workload) ([]corev1.EnvVar, error) {
	cfg := w.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, err,
			"agent %s config cannot be encoded as JSON", w.Name)
	}
	vars := map[string]corev1.EnvVar{
		driver.EnvAgentID:   {Value: w.AgentID},
		driver.EnvAgentName: {Value: w.Name},
		driver.EnvAgentKind: {Value: w.Kind},
		driver.EnvVersion:   {Value: w.Version},
		driver.EnvAddr:      {Value: fmt.Sprintf("0.0.0.0:%d", driver.ContainerPort)},
		driver.EnvConfig:    {Value: string(config)},
		driver.EnvNATSURL:   {Value: w.NATSURL},
		// Pods have no replica slot; the pod name is the instance's identity.
		driver.EnvInstance: {ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
		}},
	}
	for k, v := range w.Env {
		if _, ok := vars[k]; !ok {
			vars[k] = corev1.EnvVar{Value: v}
		}
	}
	env := make([]corev1.EnvVar, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		v := vars[k]
		v.Name = k
		env = append(env, v)
	}
	return env, nil
}

// service renders the agent's ClusterIP Service.
func service(w *driver.Workload, opts Options) *corev1.Service {
	return &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ObjectName(w),
			Namespace: opts.Namespace,
			Labels:    objectLabels(w),
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector(w),
			Ports: []corev1.ServicePort{{
				Name:       portName,
				Port:       driver.ContainerPort,
				TargetPort: intstr.FromString(portName),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
}
