package kubernetes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const namespace = "portal-agents"

// Images whose pods misbehave the way real ones do.
const (
	imageOK       = "registry.local/agents/echo:1.2.0"
	imageCrash    = "registry.local/agents/crash:1.0.0"   // exits 1 on start: CrashLoopBackOff
	imageMissing  = "registry.local/agents/missing:1.0.0" // ErrImagePull, then ImagePullBackOff
	imageUnready  = "registry.local/agents/unready:1.0.0" // runs, never passes readiness
	imageDeadline = "registry.local/agents/stalled:1.0.0" // the controller gives up: ProgressDeadlineExceeded
)

var (
	deploymentsGVR = appsv1.SchemeGroupVersion.WithResource("deployments")
	servicesGVR    = corev1.SchemeGroupVersion.WithResource("services")
)

// cluster is a fake clientset with the two parts of a control plane the
// driver depends on:
//
//   - API server semantics the plain fake lacks: metadata.generation bumped
//     on spec changes only, status written only through the status
//     subresource, resourceVersion conflicts, an immutable selector and
//     cluster IP, cluster IP allocation;
//   - a deployment controller (a goroutine) that creates and deletes pods
//     one step at a time under the Deployment's maxSurge/maxUnavailable,
//     moves them through the kubelet's states by image, and reports
//     observedGeneration and replica counts in the Deployment's status.
type cluster struct {
	cs *fake.Clientset
	rv atomic.Int64
	ip atomic.Int64

	mu sync.Mutex
	// events are pod changes in order: "create NAME", "ready NAME", "delete NAME".
	events []string
	// steps are (pods, ready pods) after each pod change.
	steps [][2]int
	// logs is what every pod's log holds, one "<RFC 3339 time> <text>\n" per line.
	logs []string
}

func newCluster(tb testing.TB) *cluster {
	tb.Helper()
	c := &cluster{cs: fake.NewClientset()}
	c.cs.PrependReactor("create", "deployments", c.createDeployment)
	c.cs.PrependReactor("update", "deployments", c.updateDeployment)
	c.cs.PrependReactor("create", "services", c.createService)
	c.cs.PrependReactor("update", "services", c.updateService)
	c.cs.PrependReactor("get", "pods", c.podLogs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return c
}

func (c *cluster) nextRV() string { return strconv.FormatInt(c.rv.Add(1), 10) }

func conflict(gr schema.GroupResource, name string) error {
	return apierrors.NewConflict(gr, name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
}

// The reactors run under the fake's lock, so they use the tracker directly.

func (c *cluster) createDeployment(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "" {
		return false, nil, nil
	}
	d := a.(k8stesting.CreateAction).GetObject().(*appsv1.Deployment).DeepCopy()
	if d.Namespace == "" {
		d.Namespace = a.GetNamespace()
	}
	if d.Spec.Selector == nil || !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, d.Name, field.ErrorList{
			field.Invalid(field.NewPath("spec", "template", "metadata", "labels"), d.Spec.Template.Labels, "`selector` does not match template `labels`"),
		})
	}
	d.UID = types.UID(fmt.Sprintf("uid-%d", c.rv.Load()))
	d.Generation = 1
	d.ResourceVersion = c.nextRV()
	d.CreationTimestamp = metav1.Now()
	d.Status = appsv1.DeploymentStatus{}
	if err := c.cs.Tracker().Create(deploymentsGVR, d, d.Namespace); err != nil {
		return true, nil, err
	}
	return true, d.DeepCopy(), nil
}

func (c *cluster) updateDeployment(a k8stesting.Action) (bool, runtime.Object, error) {
	d := a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment).DeepCopy()
	obj, err := c.cs.Tracker().Get(deploymentsGVR, a.GetNamespace(), d.Name)
	if err != nil {
		return true, nil, err
	}
	cur := obj.(*appsv1.Deployment)
	if d.ResourceVersion != cur.ResourceVersion {
		return true, nil, conflict(appsv1.Resource("deployments"), d.Name)
	}
	switch a.GetSubresource() {
	case "status":
		status := d.Status
		d = cur.DeepCopy()
		d.Status = status
	case "":
		if !apiequality.Semantic.DeepEqual(cur.Spec.Selector, d.Spec.Selector) {
			return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, d.Name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "selector"), d.Spec.Selector, "field is immutable"),
			})
		}
		d.Status = cur.Status
		d.Generation = cur.Generation
		if !apiequality.Semantic.DeepEqual(cur.Spec, d.Spec) {
			d.Generation++
		}
	default:
		return false, nil, nil
	}
	d.ResourceVersion = c.nextRV()
	if err := c.cs.Tracker().Update(deploymentsGVR, d, d.Namespace); err != nil {
		return true, nil, err
	}
	return true, d.DeepCopy(), nil
}

func (c *cluster) createService(a k8stesting.Action) (bool, runtime.Object, error) {
	s := a.(k8stesting.CreateAction).GetObject().(*corev1.Service).DeepCopy()
	if s.Namespace == "" {
		s.Namespace = a.GetNamespace()
	}
	ip := fmt.Sprintf("10.96.0.%d", 10+c.ip.Add(1))
	s.Spec.ClusterIP, s.Spec.ClusterIPs = ip, []string{ip}
	s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	s.Spec.SessionAffinity = corev1.ServiceAffinityNone
	s.ResourceVersion = c.nextRV()
	if err := c.cs.Tracker().Create(servicesGVR, s, s.Namespace); err != nil {
		return true, nil, err
	}
	return true, s.DeepCopy(), nil
}

func (c *cluster) updateService(a k8stesting.Action) (bool, runtime.Object, error) {
	s := a.(k8stesting.UpdateAction).GetObject().(*corev1.Service).DeepCopy()
	obj, err := c.cs.Tracker().Get(servicesGVR, a.GetNamespace(), s.Name)
	if err != nil {
		return true, nil, err
	}
	cur := obj.(*corev1.Service)
	if s.ResourceVersion != cur.ResourceVersion {
		return true, nil, conflict(corev1.Resource("services"), s.Name)
	}
	if s.Spec.ClusterIP != cur.Spec.ClusterIP {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, s.Name, field.ErrorList{
			field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), s.Spec.ClusterIPs, "may not change once set"),
		})
	}
	s.ResourceVersion = c.nextRV()
	if err := c.cs.Tracker().Update(servicesGVR, s, s.Namespace); err != nil {
		return true, nil, err
	}
	return true, s.DeepCopy(), nil
}

// podLogs answers GET pods/log with c.logs, honouring tailLines and
// timestamps as the kubelet does.
func (c *cluster) podLogs(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "log" {
		return false, nil, nil
	}
	c.mu.Lock()
	lines := slices.Clone(c.logs)
	c.mu.Unlock()
	if lines == nil {
		return false, nil, nil // the fake's own answer: "fake logs"
	}
	opts := a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
	if opts.TailLines != nil && int(*opts.TailLines) < len(lines) {
		lines = lines[len(lines)-int(*opts.TailLines):]
	}
	if !opts.Timestamps {
		for i, l := range lines {
			_, lines[i], _ = strings.Cut(l, " ")
		}
	}
	return true, &runtime.Unknown{Raw: []byte(strings.Join(lines, ""))}, nil
}

func (c *cluster) setLogs(lines ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = nil
	t := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, l := range lines {
		c.logs = append(c.logs, t.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano)+" "+l+"\n")
	}
}

func (c *cluster) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

func (c *cluster) Steps() [][2]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.steps)
}

// run is the deployment controller.
func (c *cluster) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Millisecond):
		}
		deps, err := c.cs.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for i := range deps.Items {
			c.sync(ctx, &deps.Items[i])
		}
	}
}

func templateHash(t *corev1.PodTemplateSpec) string {
	b, _ := json.Marshal(t)
	h := fnv.New32a()
	_, _ = h.Write(b)
	return fmt.Sprintf("%x", h.Sum32())
}

// sync takes one step of the rollout of d: advance new pods, replace one old
// pod, scale by one; then report the status.
func (c *cluster) sync(ctx context.Context, d *appsv1.Deployment) {
	pods := c.cs.CoreV1().Pods(namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(d.Spec.Selector.MatchLabels).String()})
	if err != nil {
		return
	}
	hash := templateHash(&d.Spec.Template)
	var cur, old []corev1.Pod
	for _, p := range list.Items {
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hash {
			cur = append(cur, p)
		} else {
			old = append(old, p)
		}
	}
	slices.SortFunc(cur, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(old, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	want := int(*d.Spec.Replicas)
	surge := d.Spec.Strategy.RollingUpdate.MaxSurge.IntValue()
	unavailable := d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue()
	image := d.Spec.Template.Spec.Containers[0].Image

	readyCount := func() int {
		n := 0
		for _, p := range append(slices.Clone(cur), old...) {
			if ready(p) {
				n++
			}
		}
		return n
	}
	// The kubelet: new pods move on.
	for i := range cur {
		if !ready(cur[i]) {
			c.kubelet(ctx, &cur[i], image)
			c.step(len(cur)+len(old), readyCount())
		}
	}
	// Replace: an old pod goes when the rest still meet maxUnavailable.
	if len(old) > 0 {
		victim := old[0]
		if !ready(victim) || readyCount()-1 >= want-unavailable {
			c.deletePod(ctx, victim.Name)
			old = old[1:]
			c.step(len(cur)+len(old), readyCount())
		}
	}
	// Scale: one new pod within maxSurge, or one surplus pod less.
	switch {
	case len(cur) < want && len(cur)+len(old) < want+surge:
		p := c.createPod(ctx, d, hash)
		cur = append(cur, *p)
		c.step(len(cur)+len(old), readyCount())
	case len(cur) > want:
		c.deletePod(ctx, cur[len(cur)-1].Name)
		cur = cur[:len(cur)-1]
		c.step(len(cur)+len(old), readyCount())
	}

	n := readyCount()
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            int32(len(cur) + len(old)),
		UpdatedReplicas:     int32(len(cur)),
		ReadyReplicas:       int32(n),
		AvailableReplicas:   int32(n),
		UnavailableReplicas: int32(max(0, want-n)),
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated",
		}},
	}
	if image == imageDeadline {
		st.Conditions = []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
			Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", d.Name+"-"+hash),
		}}
	}
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return
	}
	d.Status = st
	// A conflict means the spec changed under us; the next pass redoes it.
	_, _ = c.cs.AppsV1().Deployments(namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (c *cluster) step(pods, ready int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, [2]int{pods, ready})
}

func (c *cluster) event(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, fmt.Sprintf(format, args...))
}

func (c *cluster) createPod(ctx context.Context, d *appsv1.Deployment, hash string) *corev1.Pod {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = alphabet[rand.IntN(len(alphabet))]
	}
	l := maps.Clone(d.Spec.Template.Labels)
	l[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              d.Name + "-" + hash + "-" + string(suffix),
			Namespace:         namespace,
			Labels:            l,
			Annotations:       maps.Clone(d.Spec.Template.Annotations),
			CreationTimestamp: metav1.Now(),
		},
		Spec: *d.Spec.Template.Spec.DeepCopy(),
		Status: corev1.PodStatus{
			Phase:      corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name:  "agent",
				Image: d.Spec.Template.Spec.Containers[0].Image,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
			}},
		},
	}
	p.Spec.NodeName = "node-1"
	if _, err := c.cs.CoreV1().Pods(namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return p
	}
	c.event("create %s", p.Name)
	return p
}

func (c *cluster) deletePod(ctx context.Context, name string) {
	if err := c.cs.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err == nil {
		c.event("delete %s", name)
	}
}

// kubelet moves pod p one state on, as its image makes it behave.
func (c *cluster) kubelet(ctx context.Context, p *corev1.Pod, image string) {
	now := metav1.Now()
	cs := &p.Status.ContainerStatuses[0]
	setReady := func(ok bool) {
		status := corev1.ConditionFalse
		if ok {
			status = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
			{Type: corev1.ContainersReady, Status: status},
			{Type: corev1.PodReady, Status: status},
		}
	}
	running := func() {
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = fmt.Sprintf("10.244.0.%d", 2+rand.IntN(250))
		if p.Status.StartTime == nil {
			p.Status.StartTime = &now
		}
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		cs.ContainerID = "containerd://" + strings.Repeat("ab", 32)
	}
	switch image {
	case imageCrash:
		running()
		cs.RestartCount++
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off 10s restarting failed container=agent pod=%s_%s(%s)", p.Name, namespace, p.UID),
		}}
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", StartedAt: now, FinishedAt: now,
		}}
		cs.Started = new(false)
		setReady(false)
	case imageMissing:
		reason := "ErrImagePull"
		if cs.State.Waiting != nil && cs.State.Waiting.Reason == "ErrImagePull" {
			reason = "ImagePullBackOff"
		}
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  reason,
			Message: fmt.Sprintf("Back-off pulling image %q: not found", image),
		}}
	case imageUnready, imageDeadline:
		running()
		cs.Started = new(true)
		setReady(false)
	default:
		running()
		cs.Started = new(true)
		cs.Ready = true
		setReady(true)
	}
	if _, err := c.cs.CoreV1().Pods(namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return
	}
	if ready(*p) {
		c.event("ready %s", p.Name)
	}
}
