package probe

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validHTTPSpec() Spec {
	return Spec{
		Kind:             KindHTTP,
		HTTPGet:          &HTTPGetAction{URL: "http://127.0.0.1:8080/healthz"},
		Period:           time.Second,
		Timeout:          500 * time.Millisecond,
		SuccessThreshold: 1,
		FailureThreshold: 3,
	}
}

func TestTargetValidate(t *testing.T) {
	t.Parallel()
	with := func(f func(*Target)) Target {
		tg := Target{ID: "i-1", AgentID: "a-1", Spec: validHTTPSpec()}
		f(&tg)
		return tg
	}
	tests := []struct {
		name      string
		target    Target
		wantField string // empty: valid
		wantText  string
	}{
		{"valid http", with(func(*Target) {}), "", ""},
		{"valid tcp", with(func(t *Target) {
			t.Spec.Kind, t.Spec.HTTPGet, t.Spec.TCPSocket = KindTCP, nil, &TCPSocketAction{Address: "127.0.0.1:1"}
		}), "", ""},
		{"valid grpc", with(func(t *Target) {
			t.Spec.Kind, t.Spec.HTTPGet, t.Spec.GRPC = KindGRPC, nil, &GRPCAction{Address: "127.0.0.1:1"}
		}), "", ""},
		{"valid exec when allowed", with(func(t *Target) {
			t.Spec.Kind, t.Spec.HTTPGet, t.Spec.Exec, t.AllowExec = KindExec, nil, &ExecAction{Command: []string{"true"}}, true
		}), "", ""},
		{"missing id", with(func(t *Target) { t.ID = "" }), "id", "required"},
		{"zero period", with(func(t *Target) { t.Spec.Period = 0 }), "spec.period", "must be positive"},
		{"zero timeout", with(func(t *Target) { t.Spec.Timeout = 0 }), "spec.timeout", "must be positive"},
		{"timeout equals period", with(func(t *Target) { t.Spec.Timeout = t.Spec.Period }), "spec.timeout", "less than spec.period"},
		{"timeout above period", with(func(t *Target) { t.Spec.Timeout = 2 * t.Spec.Period }), "spec.timeout", "less than spec.period"},
		{"negative initial delay", with(func(t *Target) { t.Spec.InitialDelay = -time.Second }), "spec.initialDelay", "negative"},
		{"zero success threshold", with(func(t *Target) { t.Spec.SuccessThreshold = 0 }), "spec.successThreshold", "at least 1"},
		{"zero failure threshold", with(func(t *Target) { t.Spec.FailureThreshold = 0 }), "spec.failureThreshold", "at least 1"},
		{"unknown kind", with(func(t *Target) { t.Spec.Kind = "ping" }), "spec.kind", `unknown kind "ping"`},
		{"empty kind", with(func(t *Target) { t.Spec.Kind = "" }), "spec.kind", "unknown kind"},
		{"exec not allowed", with(func(t *Target) {
			t.Spec.Kind, t.Spec.HTTPGet, t.Spec.Exec = KindExec, nil, &ExecAction{Command: []string{"true"}}
		}), "spec.exec", "not allowed"},
		{"exec without command", with(func(t *Target) {
			t.Spec.Kind, t.Spec.HTTPGet, t.Spec.Exec, t.AllowExec = KindExec, nil, &ExecAction{}, true
		}), "spec.exec.command", "program is required"},
		{"http action missing", with(func(t *Target) { t.Spec.HTTPGet = nil }), "spec.httpGet", "required"},
		{"http bad scheme", with(func(t *Target) { t.Spec.HTTPGet.URL = "ftp://127.0.0.1/" }), "spec.httpGet.url", "scheme"},
		{"http no host", with(func(t *Target) { t.Spec.HTTPGet.URL = "http:///x" }), "spec.httpGet.url", "host"},
		{"tcp bad address", with(func(t *Target) {
			t.Spec.Kind, t.Spec.HTTPGet, t.Spec.TCPSocket = KindTCP, nil, &TCPSocketAction{Address: "127.0.0.1"}
		}), "spec.tcpSocket.address", "host:port"},
		{"two actions", with(func(t *Target) { t.Spec.TCPSocket = &TCPSocketAction{Address: "127.0.0.1:1"} }), "spec", "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.target.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError for %s", err, tt.wantField)
			}
			if fe.Field != tt.wantField || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Validate() = %q (field %q), want field %q and text %q", err, fe.Field, tt.wantField, tt.wantText)
			}
		})
	}
}

func TestValidateHidesURLCredentials(t *testing.T) {
	t.Parallel()
	s := validHTTPSpec()
	s.HTTPGet.URL = "http://user:s3cret@[::1%zz/"
	err := s.Validate(false)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Validate() = %v, want an error without the password", err)
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	got := Spec{}.WithDefaults()
	if got.Period != 10*time.Second || got.Timeout != time.Second || got.SuccessThreshold != 1 || got.FailureThreshold != 3 {
		t.Errorf("Spec{}.WithDefaults() = %+v, want Kubernetes' defaults 10s/1s/1/3", got)
	}
}
