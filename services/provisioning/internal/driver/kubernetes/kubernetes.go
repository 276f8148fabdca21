// Package kubernetes runs agent workloads on a Kubernetes cluster: one
// Deployment and one ClusterIP Service per agent, in one namespace.
//
// The Deployment is the unit of control: Deploy writes it with zero replicas,
// Start scales it up and waits for the rollout the way `kubectl rollout
// status` does, Stop and Suspend scale it to zero, Restart rolls the pods
// like `kubectl rollout restart`. The driver keeps no state of its own.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

// Options tune the driver; the zero value is usable.
type Options struct {
	// Namespace holds every agent's objects (default "portal-agents").
	Namespace string
	// PollInterval is how often rollouts are checked (default 1s).
	PollInterval time.Duration
	// RolloutTimeout bounds each wait for a rollout, within ctx (default 5m).
	RolloutTimeout time.Duration
	// ImagePullPolicy is the agent container's (default IfNotPresent: agent
	// images are versioned, so a present image is the right one).
	ImagePullPolicy corev1.PullPolicy
	// LogScanLines is how many lines per pod Logs reads when it filters by
	// level, so that a filter still finds Limit matching lines (default 2000).
	LogScanLines int
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "portal-agents"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.RolloutTimeout <= 0 {
		o.RolloutTimeout = 5 * time.Minute
	}
	if o.ImagePullPolicy == "" {
		o.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if o.LogScanLines <= 0 {
		o.LogScanLines = 2000
	}
	return o
}

// Driver runs workloads on one cluster.
type Driver struct {
	cs   k8s.Interface
	opts Options
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver over cs; opts' zero fields take their defaults.
func New(cs k8s.Interface, opts Options) *Driver {
	return &Driver{cs: cs, opts: opts.withDefaults()}
}

// Name is "kubernetes".
func (d *Driver) Name() string { return "kubernetes" }

// Deploy creates the Deployment (with zero replicas) and the Service, or
// updates them in place. An update keeps the Deployment's replica count and
// its last restart mark, so deploying a running agent again does not stop
// it, and rolls its pods only when the pod template really changed.
func (d *Driver) Deploy(ctx context.Context, w *driver.Workload) error {
	if err := validate(w); err != nil {
		return err
	}
	dep, err := deployment(w, d.opts, 0)
	if err != nil {
		return err
	}
	if err := d.applyDeployment(ctx, dep); err != nil {
		return err
	}
	return d.applyService(ctx, service(w, d.opts))
}

func (d *Driver) applyDeployment(ctx context.Context, want *appsv1.Deployment) error {
	api := d.cs.AppsV1().Deployments(d.opts.Namespace)
	return d.getAndWrite(ctx, "deployment", want.Name, func() error {
		cur, err := api.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = api.Create(ctx, want, metav1.CreateOptions{})
			return created(deployments, want.Name, err)
		}
		if err != nil {
			return err
		}
		next := cur.DeepCopy()
		next.Labels = want.Labels
		replicas, mark := cur.Spec.Replicas, cur.Spec.Template.Annotations[restartedAt]
		next.Spec = *want.Spec.DeepCopy()
		next.Spec.Replicas = replicas
		if mark != "" {
			setAnnotation(&next.Spec.Template.ObjectMeta, restartedAt, mark)
		}
		_, err = api.Update(ctx, next, metav1.UpdateOptions{})
		return updated(deployments, want.Name, err)
	})
}

func (d *Driver) applyService(ctx context.Context, want *corev1.Service) error {
	api := d.cs.CoreV1().Services(d.opts.Namespace)
	return d.getAndWrite(ctx, "service", want.Name, func() error {
		cur, err := api.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = api.Create(ctx, want, metav1.CreateOptions{})
			return created(services, want.Name, err)
		}
		if err != nil {
			return err
		}
		// Only the fields the driver owns: the cluster IP and the rest the
		// API server allocated stay as they are (most are immutable).
		next := cur.DeepCopy()
		next.Labels = want.Labels
		next.Spec.Type = want.Spec.Type
		next.Spec.Selector = want.Spec.Selector
		next.Spec.Ports = want.Spec.Ports
		_, err = api.Update(ctx, next, metav1.UpdateOptions{})
		return updated(services, want.Name, err)
	})
}

var (
	deployments = appsv1.Resource("deployments")
	services    = corev1.Resource("services")
)

// getAndWrite runs a read-modify-write, again when another writer (the
// deployment controller, another replica of the portal) got in between, and
// classifies its error.
func (d *Driver) getAndWrite(ctx context.Context, kind, name string, fn func() error) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, fn)
	if err == nil {
		return nil
	}
	if apierrors.IsNotFound(err) {
		// Reads handle their own not-found and updates retry it, so this is a
		// create that found no namespace to create in.
		return driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, err,
			"cannot create %s %s: namespace %s does not exist", kind, name, d.opts.Namespace).
			With("namespace", d.opts.Namespace)
	}
	return d.apiErr(err, "write %s %s/%s", kind, d.opts.Namespace, name)
}

// created turns "already exists" (created since our read) into a conflict, so
// that the read-modify-write starts again and updates it instead.
func created(gr schema.GroupResource, name string, err error) error {
	if apierrors.IsAlreadyExists(err) {
		return apierrors.NewConflict(gr, name, err)
	}
	return err
}

// updated turns "not found" (deleted since our read) into a conflict, so that
// the read-modify-write starts again and sees it gone.
func updated(gr schema.GroupResource, name string, err error) error {
	if apierrors.IsNotFound(err) {
		return apierrors.NewConflict(gr, name, err)
	}
	return err
}

func setAnnotation(m *metav1.ObjectMeta, k, v string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[k] = v
}

// Start scales the Deployment to w.Replicas and waits for the rollout.
func (d *Driver) Start(ctx context.Context, w *driver.Workload) error {
	if w.Replicas < 1 {
		return driver.Fail(driver.Configuration, driver.CodeInvalidLimits, nil,
			"replicas is %d; an agent runs at least one", w.Replicas)
	}
	return d.scaleAndWait(ctx, w, int32(w.Replicas), true)
}

// Stop scales the Deployment to zero and waits until its pods are gone; each
// gets terminationGracePeriodSeconds to finish its work. A workload that was
// never deployed is already stopped.
func (d *Driver) Stop(ctx context.Context, w *driver.Workload) error {
	return d.scaleAndWait(ctx, w, 0, false)
}

// Suspend scales to zero, like Stop: Kubernetes has no paused pods, and an
// idle Deployment at zero costs nothing while keeping its configuration.
func (d *Driver) Suspend(ctx context.Context, w *driver.Workload) error {
	return d.scaleAndWait(ctx, w, 0, true)
}

// Resume scales back to w.Replicas and waits for the rollout.
func (d *Driver) Resume(ctx context.Context, w *driver.Workload) error {
	return d.Start(ctx, w)
}

// Restart is `kubectl rollout restart`: a new restartedAt annotation on the
// pod template makes the Deployment replace its pods under its rolling
// strategy (surge one, none unavailable), each ready before the next old one
// goes. It waits for that rollout.
func (d *Driver) Restart(ctx context.Context, w *driver.Workload) error {
	api := d.cs.AppsV1().Deployments(d.opts.Namespace)
	name := ObjectName(w)
	found := false
	err := d.getAndWrite(ctx, "deployment", name, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if found = err == nil; apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		mark := time.Now().UTC().Format(time.RFC3339)
		if cur.Spec.Template.Annotations[restartedAt] == mark {
			// Restarted within the same second: the same mark would change
			// nothing and roll nothing.
			mark = time.Now().UTC().Format(time.RFC3339Nano)
		}
		setAnnotation(&cur.Spec.Template.ObjectMeta, restartedAt, mark)
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		return updated(deployments, name, err)
	})
	if err != nil {
		return err
	}
	if !found {
		return notDeployed(w, nil)
	}
	return d.waitRollout(ctx, w, true)
}

// Remove deletes the Deployment (the garbage collector takes its pods) and
// the Service. Either already gone is fine.
func (d *Driver) Remove(ctx context.Context, w *driver.Workload) error {
	name := ObjectName(w)
	policy := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	err := d.cs.AppsV1().Deployments(d.opts.Namespace).Delete(ctx, name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return d.apiErr(err, "delete deployment %s/%s", d.opts.Namespace, name)
	}
	err = d.cs.CoreV1().Services(d.opts.Namespace).Delete(ctx, name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return d.apiErr(err, "delete service %s/%s", d.opts.Namespace, name)
	}
	return nil
}

// scaleAndWait sets the Deployment's replica count and waits for the
// rollout. mustExist says whether a missing Deployment is NOT_DEPLOYED or
// already where it should be (stopped).
func (d *Driver) scaleAndWait(ctx context.Context, w *driver.Workload, replicas int32, mustExist bool) error {
	api := d.cs.AppsV1().Deployments(d.opts.Namespace)
	name := ObjectName(w)
	found := false
	err := d.getAndWrite(ctx, "deployment", name, func() error {
		cur, err := api.Get(ctx, name, metav1.GetOptions{})
		if found = err == nil; apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Spec.Replicas != nil && *cur.Spec.Replicas == replicas {
			return nil
		}
		cur.Spec.Replicas = &replicas
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
		return updated(deployments, name, err)
	})
	switch {
	case err != nil:
		return err
	case !found && mustExist:
		return notDeployed(w, nil)
	case !found:
		return nil
	}
	// Pod failures matter only while pods should be coming up; a crash-looping
	// pod being scaled away is no reason to fail a stop.
	return d.waitRollout(ctx, w, replicas > 0)
}

func notDeployed(w *driver.Workload, err error) *driver.Failure {
	return driver.Fail(driver.Permanent, driver.CodeNotDeployed, err,
		"agent %s has no deployment; deploy it first", w.Name).With("deployment", ObjectName(w))
}

// apiErr wraps an API error with what was being done, classifying the causes
// the provisioning service explains.
func (d *Driver) apiErr(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return driver.Fail(driver.Dependency, driver.CodeRuntimeDown, err,
			"the kubernetes API refused the portal's credentials (%s)", what).With("namespace", d.opts.Namespace)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err):
		return driver.Fail(driver.Configuration, driver.CodeRuntimeRejected, err,
			"the kubernetes API rejected the agent's objects (%s)", what)
	case unreachable(err), apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err),
		apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err):
		return driver.Fail(driver.Dependency, driver.CodeRuntimeDown, err,
			"the kubernetes API is unavailable (%s)", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// unreachable reports a transport failure: no answer from the API server.
func unreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED)
}
