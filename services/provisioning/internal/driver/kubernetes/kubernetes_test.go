package kubernetes_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
	"github.com/platformportal/portal/services/provisioning/internal/driver/kubernetes"
)

const agentID = "6f1c2a4e-5b7d-4e21-9a0f-3c8d2e1b7a90"

func workload(image string) *driver.Workload {
	return &driver.Workload{
		AgentID:   agentID,
		Name:      "echo",
		Kind:      "echo",
		Version:   "1.2.0",
		Replicas:  3,
		Image:     image,
		Args:      []string{"--verbose"},
		Env:       map[string]string{"LOG_FORMAT": "json"},
		Config:    map[string]any{"greeting": "hi"},
		Resources: driver.Resources{CPUMillis: 250, MemoryBytes: 64 << 20},
		Labels:    map[string]string{"team": "core"},
		NATSURL:   "nats://nats.portal:4222",
	}
}

func fastOptions() kubernetes.Options {
	return kubernetes.Options{PollInterval: time.Millisecond, RolloutTimeout: 10 * time.Second}
}

func getDeployment(tb testing.TB, c *cluster) *appsv1.Deployment {
	tb.Helper()
	d, err := c.cs.AppsV1().Deployments(namespace).Get(tb.Context(), "agent-echo", metav1.GetOptions{})
	if err != nil {
		tb.Fatalf("get deployment: %v", err)
	}
	return d
}

func podNames(tb testing.TB, c *cluster) []string {
	tb.Helper()
	list, err := c.cs.CoreV1().Pods(namespace).List(tb.Context(), metav1.ListOptions{})
	if err != nil {
		tb.Fatalf("list pods: %v", err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newCluster(t)
	d := kubernetes.New(c.cs, fastOptions())
	w := workload(imageOK)

	if got := d.Name(); got != "kubernetes" {
		t.Fatalf("Name() = %q, want kubernetes", got)
	}

	// Deploy: the objects exist, nothing runs.
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("Deploy() = %v", err)
	}
	dep := getDeployment(t, c)
	if got := *dep.Spec.Replicas; got != 0 {
		t.Errorf("after Deploy(), replicas = %d, want 0", got)
	}
	svc, err := c.cs.CoreV1().Services(namespace).Get(ctx, "agent-echo", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after Deploy(), get service: %v", err)
	}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 8080 {
		t.Errorf("service spec = %+v, want ClusterIP port 8080", svc.Spec)
	}
	if insts, err := d.Instances(ctx, w); err != nil || len(insts) != 0 {
		t.Errorf("Instances() after Deploy = %v, %v; want none", insts, err)
	}

	// Start scales up and returns only when the rollout is complete.
	if err := d.Start(ctx, w); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	dep = getDeployment(t, c)
	if st := dep.Status; *dep.Spec.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.ObservedGeneration != dep.Generation {
		t.Errorf("after Start(), replicas %d, status %+v; want 3 ready and available, generation observed", *dep.Spec.Replicas, st)
	}
	started := podNames(t, c)

	insts, err := d.Instances(ctx, w)
	if err != nil {
		t.Fatalf("Instances() = %v", err)
	}
	if len(insts) != 3 {
		t.Fatalf("Instances() = %d instances, want 3: %+v", len(insts), insts)
	}
	for i, in := range insts {
		if in.Handle != started[i] || !strings.HasSuffix(in.Handle, "-"+in.ID) || len(in.ID) != 5 {
			t.Errorf("instance %d = %+v, want handle %s and its suffix as ID", i, in, started[i])
		}
		if in.State != driver.InstanceReady || !strings.HasSuffix(in.Addr, ":8080") || in.StartedAt.IsZero() || in.Restarts != 0 {
			t.Errorf("instance %d = %+v, want ready on :8080, started, no restarts", i, in)
		}
	}

	// Logs: every pod logs the same four lines here (the fake cannot tell
	// pods apart in a log request).
	c.setLogs(
		`{"level":"INFO","msg":"agent listening"}`,
		"connected to nats",
		`{"level":"WARN","msg":"config key ignored"}`,
		`{"level":"DEBUG","msg":"polling"}`,
	)
	logTests := []struct {
		name string
		q    driver.LogQuery
		want []string // level:message prefix
		inst string   // every line's instance, when set
	}{
		{name: "all", q: driver.LogQuery{}, want: []string{
			"info:{", "info:{", "info:{", "info:connected", "info:connected", "info:connected",
			"warn:{", "warn:{", "warn:{", "debug:{", "debug:{", "debug:{",
		}},
		{name: "one instance", q: driver.LogQuery{Instance: insts[1].ID}, inst: insts[1].ID, want: []string{"info:{", "info:connected", "warn:{", "debug:{"}},
		{name: "by pod name", q: driver.LogQuery{Instance: insts[2].Handle}, inst: insts[2].ID, want: []string{"info:{", "info:connected", "warn:{", "debug:{"}},
		{name: "warn and above", q: driver.LogQuery{MinLevel: "warn"}, want: []string{"warn:{", "warn:{", "warn:{"}},
		{name: "limit keeps the newest", q: driver.LogQuery{Instance: insts[0].ID, Limit: 2}, inst: insts[0].ID, want: []string{"warn:{", "debug:{"}},
	}
	for _, tt := range logTests {
		lines, err := d.Logs(ctx, w, tt.q)
		if err != nil {
			t.Fatalf("%s: Logs(%+v) = %v", tt.name, tt.q, err)
		}
		var got []string
		for i, l := range lines {
			got = append(got, l.Level+":"+l.Message)
			if l.Time.IsZero() || (i > 0 && l.Time.Before(lines[i-1].Time)) {
				t.Errorf("%s: line %d time %v: want set, oldest first", tt.name, i, l.Time)
			}
			if tt.inst != "" && l.Instance != tt.inst {
				t.Errorf("%s: line %d instance = %q, want %q", tt.name, i, l.Instance, tt.inst)
			}
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

	// Suspend scales to zero and keeps the Deployment; Resume scales back.
	if err := d.Suspend(ctx, w); err != nil {
		t.Fatalf("Suspend() = %v", err)
	}
	if dep := getDeployment(t, c); *dep.Spec.Replicas != 0 || dep.Status.Replicas != 0 {
		t.Errorf("after Suspend(), replicas %d, status %+v; want 0 and no pods", *dep.Spec.Replicas, dep.Status)
	}
	if got := podNames(t, c); len(got) != 0 {
		t.Errorf("after Suspend(), pods = %q, want none", got)
	}
	if err := d.Resume(ctx, w); err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	assertReady(t, d, w, 3)

	// Restart replaces every pod, surging one at a time and never dropping
	// below three ready pods.
	before := podNames(t, c)
	events, steps := len(c.Events()), len(c.Steps())
	if err := d.Restart(ctx, w); err != nil {
		t.Fatalf("Restart() = %v", err)
	}
	after := podNames(t, c)
	for _, p := range after {
		if slices.Contains(before, p) {
			t.Errorf("after Restart(), pod %s is still there; want every pod replaced (before %q, after %q)", p, before, after)
		}
	}
	if _, ok := getDeployment(t, c).Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"]; !ok {
		t.Errorf("after Restart(), the pod template has no restartedAt annotation")
	}
	var kinds []string
	for _, e := range c.Events()[events:] {
		kind, _, _ := strings.Cut(e, " ")
		kinds = append(kinds, kind)
	}
	wantKinds := []string{"create", "ready", "delete", "create", "ready", "delete", "create", "ready", "delete"}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("Restart() pod events (-want +got):\n%s", diff)
	}
	for _, s := range c.Steps()[steps:] {
		if s[0] > 4 || s[1] < 3 {
			t.Errorf("during Restart(), %d pods with %d ready: want at most 4 (maxSurge 1) and at least 3 ready (maxUnavailable 0)", s[0], s[1])
		}
	}
	assertReady(t, d, w, 3)

	// Stop scales to zero and waits for the pods to go; again is fine.
	for range 2 {
		if err := d.Stop(ctx, w); err != nil {
			t.Fatalf("Stop() = %v", err)
		}
	}
	if got := podNames(t, c); len(got) != 0 {
		t.Errorf("after Stop(), pods = %q, want none", got)
	}
	getDeployment(t, c) // still there

	// Remove deletes both objects; again is fine.
	for range 2 {
		if err := d.Remove(ctx, w); err != nil {
			t.Fatalf("Remove() = %v", err)
		}
	}
	if _, err := c.cs.AppsV1().Deployments(namespace).Get(ctx, "agent-echo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Remove(), get deployment = %v, want not found", err)
	}
	if _, err := c.cs.CoreV1().Services(namespace).Get(ctx, "agent-echo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after Remove(), get service = %v, want not found", err)
	}
	// Stopping what is gone is fine too.
	if err := d.Stop(ctx, w); err != nil {
		t.Errorf("Stop() after Remove() = %v, want nil", err)
	}
}

func assertReady(tb testing.TB, d *kubernetes.Driver, w *driver.Workload, n int) {
	tb.Helper()
	insts, err := d.Instances(tb.Context(), w)
	if err != nil {
		tb.Fatalf("Instances() = %v", err)
	}
	if len(insts) != n {
		tb.Fatalf("Instances() = %+v, want %d", insts, n)
	}
	for _, in := range insts {
		if in.State != driver.InstanceReady {
			tb.Errorf("instance %s state = %s, want ready", in.ID, in.State)
		}
	}
}

func TestDeployUpdatesInPlace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newCluster(t)
	d := kubernetes.New(c.cs, fastOptions())
	w := workload(imageOK)
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("Deploy() = %v", err)
	}
	if err := d.Start(ctx, w); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	dep := getDeployment(t, c)
	svc, _ := c.cs.CoreV1().Services(namespace).Get(ctx, "agent-echo", metav1.GetOptions{})
	pods := podNames(t, c)

	// The same workload again changes nothing: no new generation, no rollout,
	// the agent keeps running.
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("second Deploy() = %v", err)
	}
	again := getDeployment(t, c)
	if again.Generation != dep.Generation || *again.Spec.Replicas != 3 {
		t.Errorf("second Deploy(): generation %d -> %d, replicas %d; want unchanged, 3", dep.Generation, again.Generation, *again.Spec.Replicas)
	}
	if got := podNames(t, c); !slices.Equal(got, pods) {
		t.Errorf("second Deploy(): pods %q -> %q, want unchanged", pods, got)
	}

	// A changed workload updates both objects in place.
	w.Env["LOG_FORMAT"] = "text"
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("Deploy() with new env = %v", err)
	}
	changed := getDeployment(t, c)
	if changed.UID != dep.UID || changed.Generation != dep.Generation+1 || *changed.Spec.Replicas != 3 {
		t.Errorf("Deploy() with new env: uid %s -> %s, generation %d -> %d, replicas %d; want same object, next generation, 3 replicas",
			dep.UID, changed.UID, dep.Generation, changed.Generation, *changed.Spec.Replicas)
	}
	var got string
	for _, e := range changed.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "LOG_FORMAT" {
			got = e.Value
		}
	}
	if got != "text" {
		t.Errorf("Deploy() with new env: LOG_FORMAT = %q, want text", got)
	}
	svc2, _ := c.cs.CoreV1().Services(namespace).Get(ctx, "agent-echo", metav1.GetOptions{})
	if svc2.Spec.ClusterIP == "" || svc2.Spec.ClusterIP != svc.Spec.ClusterIP {
		t.Errorf("Deploy() with new env: cluster IP %q -> %q, want kept", svc.Spec.ClusterIP, svc2.Spec.ClusterIP)
	}
	creates := 0
	for _, a := range c.cs.Actions() {
		if a.GetVerb() == "create" && (a.GetResource().Resource == "deployments" || a.GetResource().Resource == "services") {
			creates++
		}
	}
	if creates != 2 {
		t.Errorf("%d creates of deployments and services, want 2 (one each, then updates)", creates)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	deployStart := func(ctx context.Context, d *kubernetes.Driver, w *driver.Workload) error {
		if err := d.Deploy(ctx, w); err != nil {
			return err
		}
		return d.Start(ctx, w)
	}
	deploy := func(ctx context.Context, d *kubernetes.Driver, w *driver.Workload) error { return d.Deploy(ctx, w) }
	forbidden := func(c *cluster) {
		c.cs.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(a.GetResource().GroupResource(), "agent-echo",
				errors.New(`User "system:serviceaccount:portal:provisioning" cannot get resource in the namespace "portal-agents"`))
		})
	}
	tests := []struct {
		name      string
		image     string
		setup     func(c *cluster)
		opts      func(o *kubernetes.Options)
		change    func(w *driver.Workload)
		run       func(context.Context, *kubernetes.Driver, *driver.Workload) error
		class     driver.Class
		code      string
		details   map[string]string
		noActions bool // the API is never called
	}{
		{
			name:    "rollout timeout",
			image:   imageUnready,
			opts:    func(o *kubernetes.Options) { o.RolloutTimeout = 100 * time.Millisecond },
			run:     deployStart,
			class:   driver.Transient,
			code:    driver.CodeRolloutIncomplete,
			details: map[string]string{"replicas": "3", "ready": "0", "available": "0"},
		},
		{
			name:    "progress deadline exceeded",
			image:   imageDeadline,
			run:     deployStart,
			class:   driver.Transient,
			code:    driver.CodeRolloutIncomplete,
			details: map[string]string{"replicas": "3"},
		},
		{
			name:    "crash-looping pod",
			image:   imageCrash,
			run:     deployStart,
			class:   driver.Transient,
			code:    driver.CodeCrashLoop,
			details: map[string]string{"reason": "CrashLoopBackOff", "exit_code": "1", "last_exit": "exit status 1"},
		},
		{
			name:    "image pull error",
			image:   imageMissing,
			run:     deployStart,
			class:   driver.Configuration,
			code:    driver.CodeImageNotFound,
			details: map[string]string{"image": imageMissing},
		},
		{
			name:      "memory below the minimum",
			change:    func(w *driver.Workload) { w.Resources.MemoryBytes = 2 << 20 },
			run:       deploy,
			class:     driver.Configuration,
			code:      driver.CodeInvalidLimits,
			details:   map[string]string{"memory_bytes": "2097152"},
			noActions: true,
		},
		{
			name:      "negative cpu",
			change:    func(w *driver.Workload) { w.Resources.CPUMillis = -1 },
			run:       deploy,
			class:     driver.Configuration,
			code:      driver.CodeInvalidLimits,
			noActions: true,
		},
		{
			name:      "name too long for an object",
			change:    func(w *driver.Workload) { w.Name = strings.Repeat("a", 60) },
			run:       deploy,
			class:     driver.Configuration,
			code:      driver.CodeRuntimeRejected,
			noActions: true,
		},
		{
			name:  "forbidden",
			setup: forbidden,
			run:   deploy,
			class: driver.Dependency,
			code:  driver.CodeRuntimeDown,
		},
		{
			name:  "forbidden logs",
			setup: forbidden,
			run: func(ctx context.Context, d *kubernetes.Driver, w *driver.Workload) error {
				_, err := d.Logs(ctx, w, driver.LogQuery{})
				return err
			},
			class: driver.Dependency,
			code:  driver.CodeRuntimeDown,
		},
		{
			name:  "start before deploy",
			run:   func(ctx context.Context, d *kubernetes.Driver, w *driver.Workload) error { return d.Start(ctx, w) },
			class: driver.Permanent,
			code:  driver.CodeNotDeployed,
		},
		{
			name:  "restart before deploy",
			run:   func(ctx context.Context, d *kubernetes.Driver, w *driver.Workload) error { return d.Restart(ctx, w) },
			class: driver.Permanent,
			code:  driver.CodeNotDeployed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			if tt.setup != nil {
				tt.setup(c)
			}
			opts := fastOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			d := kubernetes.New(c.cs, opts)
			image := tt.image
			if image == "" {
				image = imageOK
			}
			w := workload(image)
			if tt.change != nil {
				tt.change(w)
			}
			err := tt.run(t.Context(), d, w)
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
			if tt.noActions {
				if got := c.cs.Actions(); len(got) != 0 {
					t.Errorf("API actions = %v, want none: the driver must refuse first", got)
				}
			}
		})
	}
}

// TestUnreachable uses a real clientset against an address nothing listens
// on: the failure must say the API is unavailable.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(nil)
	addr := srv.URL
	srv.Close()
	cs, err := k8s.NewForConfig(&rest.Config{Host: addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewForConfig() = %v", err)
	}
	d := kubernetes.New(cs, fastOptions())
	for name, run := range map[string]func() error{
		"Deploy":    func() error { return d.Deploy(t.Context(), workload(imageOK)) },
		"Instances": func() error { _, err := d.Instances(t.Context(), workload(imageOK)); return err },
	} {
		err := run()
		if f, ok := driver.AsFailure(err); !ok || f.Class != driver.Dependency || f.Code != driver.CodeRuntimeDown {
			t.Errorf("%s() = %v, want a dependency/%s failure", name, err, driver.CodeRuntimeDown)
		}
	}
}

// TestFakeLogs reads logs through the fake's own answer, "fake logs": a line
// without a timestamp.
func TestFakeLogs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newCluster(t)
	d := kubernetes.New(c.cs, fastOptions())
	w := workload(imageOK)
	w.Replicas = 1
	if err := d.Deploy(ctx, w); err != nil {
		t.Fatalf("Deploy() = %v", err)
	}
	if err := d.Start(ctx, w); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	lines, err := d.Logs(ctx, w, driver.LogQuery{})
	if err != nil {
		t.Fatalf("Logs() = %v", err)
	}
	if len(lines) != 1 || lines[0].Message != "fake logs" || lines[0].Level != "info" || !lines[0].Time.IsZero() {
		t.Errorf("Logs() = %+v, want one untimed info line \"fake logs\"", lines)
	}
}
