package kubernetes

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// waitRollout polls the Deployment until its rollout is complete, as
// `kubectl rollout status` decides it: the controller has seen the latest
// spec, and every replica is updated, ready and available with no old pod
// left. With checkPods it also looks at the pods and fails early on causes
// that waiting will not cure (crash loops, images that cannot be pulled).
func (d *Driver) waitRollout(ctx context.Context, w *driver.Workload, checkPods bool) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.RolloutTimeout)
	defer cancel()
	api := d.cs.AppsV1().Deployments(d.opts.Namespace)
	name := ObjectName(w)
	var last *appsv1.Deployment
	for {
		dep, err := api.Get(ctx, name, metav1.GetOptions{})
		switch {
		case ctx.Err() != nil:
			return incomplete(ctx, last)
		case apierrors.IsNotFound(err):
			return notDeployed(w, err)
		case err != nil:
			return d.apiErr(err, "read deployment %s/%s", d.opts.Namespace, name)
		}
		last = dep
		done, err := rolloutDone(dep)
		if done || err != nil {
			return err
		}
		if checkPods {
			if err := d.podFailure(ctx, w); err != nil {
				if ctx.Err() != nil {
					return incomplete(ctx, last)
				}
				return err
			}
		}
		select {
		case <-ctx.Done():
			return incomplete(ctx, last)
		case <-time.After(d.opts.PollInterval):
		}
	}
}

// rolloutDone reports whether dep's rollout is complete, or the failure the
// controller reports for it.
func rolloutDone(dep *appsv1.Deployment) (bool, error) {
	if dep.Status.ObservedGeneration < dep.Generation {
		return false, nil
	}
	for _, c := range dep.Status.Conditions {
		switch {
		case c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded":
			return false, withCounts(driver.Fail(driver.Transient, driver.CodeRolloutIncomplete, nil,
				"deployment %s made no progress within its deadline: %s", dep.Name, c.Message), dep)
		case c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue:
			// The controller cannot create pods: quota, admission, a missing
			// service account. Retrying will not help until that is fixed.
			return false, withCounts(driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, nil,
				"the cluster refuses to create pods for %s: %s", dep.Name, c.Message), dep).
				With("reason", c.Reason)
		}
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	st := dep.Status
	return st.Replicas == want && st.UpdatedReplicas == want &&
		st.ReadyReplicas == want && st.AvailableReplicas == want, nil
}

// incomplete is the ROLLOUT_INCOMPLETE failure when the wait ends first.
func incomplete(ctx context.Context, dep *appsv1.Deployment) error {
	f := driver.Fail(driver.Transient, driver.CodeRolloutIncomplete, context.Cause(ctx),
		"the rollout did not complete in time")
	if dep == nil {
		return f
	}
	f.Message = "the rollout of " + dep.Name + " did not complete in time"
	return withCounts(f, dep)
}

func withCounts(f *driver.Failure, dep *appsv1.Deployment) *driver.Failure {
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	st := dep.Status
	itoa := func(n int32) string { return strconv.Itoa(int(n)) }
	return f.With("replicas", itoa(want)).
		With("current", itoa(st.Replicas)).
		With("updated", itoa(st.UpdatedReplicas)).
		With("ready", itoa(st.ReadyReplicas)).
		With("available", itoa(st.AvailableReplicas)).
		With("generation", strconv.FormatInt(dep.Generation, 10)).
		With("observed_generation", strconv.FormatInt(st.ObservedGeneration, 10))
}

// Waiting reasons the kubelet reports for containers that cannot start.
const (
	reasonCrashLoop       = "CrashLoopBackOff"
	reasonImagePull       = "ErrImagePull"
	reasonImagePullBack   = "ImagePullBackOff"
	reasonInvalidImage    = "InvalidImageName"
	reasonNeverPull       = "ErrImageNeverPull"
	reasonConfigError     = "CreateContainerConfigError"
	reasonCreateContainer = "CreateContainerError"
)

// podFailure looks at the agent's pods for a container that will not come up
// by waiting.
func (d *Driver) podFailure(ctx context.Context, w *driver.Workload) error {
	pods, err := d.pods(ctx, w)
	if err != nil {
		return err
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if cs.State.Waiting == nil {
				continue
			}
			wt := cs.State.Waiting
			var f *driver.Failure
			switch wt.Reason {
			case reasonCrashLoop:
				f = driver.Fail(driver.Transient, driver.CodeCrashLoop, nil,
					"pod %s keeps crashing (%d restarts)", p.Name, cs.RestartCount).
					With("restarts", strconv.Itoa(int(cs.RestartCount)))
				if t := cs.LastTerminationState.Terminated; t != nil {
					f = f.With("exit_code", strconv.Itoa(int(t.ExitCode))).With("last_exit", exitText(t))
				}
			case reasonImagePull, reasonImagePullBack, reasonInvalidImage, reasonNeverPull:
				f = driver.Fail(driver.Configuration, driver.CodeImageNotFound, nil,
					"pod %s cannot pull image %s", p.Name, cs.Image).With("image", cs.Image)
			case reasonConfigError, reasonCreateContainer:
				f = driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, nil,
					"the kubelet cannot create the agent container in pod %s", p.Name)
			default:
				continue // ContainerCreating, PodInitializing: wait
			}
			return f.With("pod", p.Name).With("reason", wt.Reason).With("message", wt.Message)
		}
	}
	return nil
}

// pods lists the agent's pods, by name.
func (d *Driver) pods(ctx context.Context, w *driver.Workload) ([]corev1.Pod, error) {
	list, err := d.cs.CoreV1().Pods(d.opts.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(selector(w)).String(),
	})
	if err != nil {
		return nil, d.apiErr(err, "list pods of %s/%s", d.opts.Namespace, ObjectName(w))
	}
	slices.SortFunc(list.Items, func(a, b corev1.Pod) int { return cmp.Compare(a.Name, b.Name) })
	return list.Items, nil
}

func exitText(t *corev1.ContainerStateTerminated) string {
	s := "exit status " + strconv.Itoa(int(t.ExitCode))
	if t.Reason != "" && t.Reason != "Error" && t.Reason != "Completed" {
		s += " (" + t.Reason + ")"
	}
	return s
}
