package kubernetes

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/platformportal/portal/services/provisioning/internal/driver"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the rendered manifests")

// representative is a workload with everything set, including labels the
// API server would refuse (they must be left out) and env that tries to
// override the contract (it must lose).
func representative() *driver.Workload {
	return &driver.Workload{
		AgentID:  "6f1c2a4e-5b7d-4e21-9a0f-3c8d2e1b7a90",
		Name:     "invoice-parser",
		Kind:     "parser",
		Version:  "2.4.1",
		Replicas: 3,
		Image:    "registry.local/agents/invoice-parser:2.4.1",
		Args:     []string{"--workers", "4"},
		Env: map[string]string{
			"ZONE":       "eu-west-1",
			"LOG_FORMAT": "json",
			"AGENT_ADDR": "0.0.0.0:9999",
		},
		Config:    map[string]any{"queue": "invoices", "batch": 10},
		Resources: driver.Resources{CPUMillis: 500, MemoryBytes: 256 << 20},
		Labels: map[string]string{
			"team":        "billing",
			"cost-center": "cc-42",
			"bad value":   "spaces are not allowed in keys",
			"owner":       "not a valid label value!",
		},
		NATSURL: "nats://nats.portal.svc:4222",
	}
}

func TestManifestsGolden(t *testing.T) {
	t.Parallel()
	w := representative()
	opts := Options{}.withDefaults()
	dep, err := deployment(w, opts, 0)
	if err != nil {
		t.Fatalf("deployment() = %v", err)
	}
	svc := service(w, opts)
	for _, tt := range []struct {
		file string
		obj  runtime.Object
	}{
		{"deployment.golden.yaml", dep},
		{"service.golden.yaml", svc},
	} {
		got, err := yaml.Marshal(tt.obj)
		if err != nil {
			t.Fatalf("yaml.Marshal(%s) = %v", tt.file, err)
		}
		path := filepath.Join("testdata", tt.file)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatalf("write %s: %v", path, err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v (run go test -update to create it)", path, err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s differs from the rendered manifest (-golden +rendered); go test -update refreshes it:\n%s", path, diff)
		}
		strictRoundTrip(t, got, tt.obj)
	}
	validateDeployment(t, dep)
	validateService(t, svc)
}

// strictRoundTrip decodes the manifest with client-go's scheme in strict mode
// (unknown or duplicate fields fail) and checks that nothing was lost.
func strictRoundTrip(tb testing.TB, manifest []byte, want runtime.Object) {
	tb.Helper()
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	got, gvk, err := codecs.UniversalDeserializer().Decode(manifest, nil, nil)
	if err != nil {
		tb.Fatalf("strict decode: %v\n%s", err, manifest)
	}
	if gvk.Kind != want.GetObjectKind().GroupVersionKind().Kind {
		tb.Errorf("decoded kind %s, want %s", gvk.Kind, want.GetObjectKind().GroupVersionKind().Kind)
	}
	if !apiequality.Semantic.DeepEqual(want, got) {
		tb.Errorf("strict round trip lost something:\n%s", cmp.Diff(want, got))
	}
}

// validateDeployment applies the API server's checks that apimachinery
// carries: names, labels, selector against template.
func validateDeployment(tb testing.TB, d *appsv1.Deployment) {
	tb.Helper()
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(d.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), d.Name, msg))
	}
	errs = append(errs, metav1validation.ValidateLabels(d.Labels, field.NewPath("metadata", "labels"))...)
	errs = append(errs, metav1validation.ValidateLabels(d.Spec.Template.Labels, field.NewPath("spec", "template", "metadata", "labels"))...)
	errs = append(errs, metav1validation.ValidateLabelSelector(d.Spec.Selector, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("spec", "selector"))...)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "template", "metadata", "labels"), d.Spec.Template.Labels, "selector does not match template labels"))
	}
	for i, c := range d.Spec.Template.Spec.Containers {
		p := field.NewPath("spec", "template", "spec", "containers").Index(i)
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
		for j, port := range c.Ports {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(p.Child("ports").Index(j).Child("name"), port.Name, msg))
			}
		}
		for j, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(p.Child("env").Index(j).Child("name"), e.Name, msg))
			}
		}
		if !apiequality.Semantic.DeepEqual(c.Resources.Requests, c.Resources.Limits) {
			errs = append(errs, field.Invalid(p.Child("resources"), c.Resources, "requests must equal limits"))
		}
	}
	for _, e := range errs {
		tb.Errorf("deployment: %v", e)
	}
}

func validateService(tb testing.TB, s *corev1.Service) {
	tb.Helper()
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1035Label(s.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), s.Name, msg))
	}
	errs = append(errs, metav1validation.ValidateLabels(s.Labels, field.NewPath("metadata", "labels"))...)
	errs = append(errs, metav1validation.ValidateLabels(s.Spec.Selector, field.NewPath("spec", "selector"))...)
	for _, e := range errs {
		tb.Errorf("service: %v", e)
	}
}

func TestEnvironmentContractWins(t *testing.T) {
	t.Parallel()
	env, err := environment(representative())
	if err != nil {
		t.Fatalf("environment() = %v", err)
	}
	var names []string
	for _, e := range env {
		names = append(names, e.Name)
		if e.Name == driver.EnvAddr && e.Value != "0.0.0.0:8080" {
			t.Errorf("AGENT_ADDR = %q, want the contract's 0.0.0.0:8080", e.Value)
		}
		if e.Name == driver.EnvInstance && (e.ValueFrom == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name") {
			t.Errorf("AGENT_INSTANCE = %+v, want the pod name from the downward API", e)
		}
	}
	want := []string{"AGENT_ADDR", "AGENT_CONFIG", "AGENT_ID", "AGENT_INSTANCE", "AGENT_KIND", "AGENT_NAME", "AGENT_VERSION", "LOG_FORMAT", "NATS_URL", "ZONE"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("env names (-want +got):\n%s", diff)
	}
}

func TestNoResourcesWhenUnlimited(t *testing.T) {
	t.Parallel()
	w := representative()
	w.Resources = driver.Resources{}
	dep, err := deployment(w, Options{}.withDefaults(), 0)
	if err != nil {
		t.Fatalf("deployment() = %v", err)
	}
	r := dep.Spec.Template.Spec.Containers[0].Resources
	if r.Requests != nil || r.Limits != nil {
		t.Errorf("resources = %+v, want none for zero limits", r)
	}
	got, _ := yaml.Marshal(dep)
	if bytes.Contains(got, []byte("limits:")) {
		t.Errorf("rendered deployment has limits:\n%s", got)
	}
}
