package probe

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Kind names a probe mechanism.
type Kind string

// The probe kinds. Their names match Kubernetes' probe handlers.
const (
	KindHTTP Kind = "httpGet"
	KindTCP  Kind = "tcpSocket"
	KindGRPC Kind = "grpc"
	KindExec Kind = "exec"
)

// Kubernetes' defaults, applied by WithDefaults. Validate does not apply
// them: a zero period in a stored spec is a bug to report, not to paper over.
const (
	DefaultPeriod           = 10 * time.Second
	DefaultTimeout          = 1 * time.Second
	DefaultSuccessThreshold = 1
	DefaultFailureThreshold = 3
)

// Spec says how and how often to probe one target.
type Spec struct {
	Kind Kind

	// Exactly the field matching Kind is set.
	HTTPGet   *HTTPGetAction
	TCPSocket *TCPSocketAction
	GRPC      *GRPCAction
	Exec      *ExecAction

	// InitialDelay is Kubernetes' initialDelaySeconds: no probe runs before it.
	InitialDelay time.Duration
	// Period is periodSeconds: the time between the starts of two probes.
	Period time.Duration
	// Timeout is timeoutSeconds: a probe still running after it has failed.
	Timeout time.Duration
	// SuccessThreshold is successThreshold: consecutive successes needed to
	// become healthy.
	SuccessThreshold int
	// FailureThreshold is failureThreshold: consecutive failures needed to
	// become unhealthy.
	FailureThreshold int
}

// HTTPGetAction probes with an HTTP GET; a 2xx or 3xx status is a success.
// Redirects are not followed, so a 3xx counts as is.
type HTTPGetAction struct {
	// URL is absolute, http or https.
	URL string
	// Header is sent with the request (e.g. Host or an auth token; its values
	// never appear in results).
	Header http.Header
}

// TCPSocketAction probes by opening a TCP connection.
type TCPSocketAction struct {
	// Address is host:port.
	Address string
}

// GRPCAction probes with grpc.health.v1.Health/Check; SERVING is a success.
type GRPCAction struct {
	// Address is host:port; the connection is plaintext, like Kubernetes'.
	Address string
	// Service is the service name sent in the request; empty means the server.
	Service string
}

// ExecAction probes by running a command; exit status 0 is a success. The
// command runs on the health service's host, so it is refused unless the
// target allows it (Target.AllowExec).
type ExecAction struct {
	// Command is argv: the program and its arguments, no shell implied.
	Command []string
}

// WithDefaults returns s with Kubernetes' defaults in its zero timing fields.
func (s Spec) WithDefaults() Spec {
	if s.Period == 0 {
		s.Period = DefaultPeriod
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.SuccessThreshold == 0 {
		s.SuccessThreshold = DefaultSuccessThreshold
	}
	if s.FailureThreshold == 0 {
		s.FailureThreshold = DefaultFailureThreshold
	}
	return s
}

// FieldError reports an invalid field of a Spec or Target.
type FieldError struct {
	Field  string // e.g. "spec.period"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid field of s as a *FieldError. allowExec
// says whether the caller permits exec probes.
func (s Spec) Validate(allowExec bool) error {
	switch {
	case s.Period <= 0:
		return fieldErr("spec.period", "must be positive, got %v", s.Period)
	case s.Timeout <= 0:
		return fieldErr("spec.timeout", "must be positive, got %v", s.Timeout)
	case s.Timeout >= s.Period:
		// A probe outliving its period would overlap the next one.
		return fieldErr("spec.timeout", "must be less than spec.period (%v), got %v", s.Period, s.Timeout)
	case s.InitialDelay < 0:
		return fieldErr("spec.initialDelay", "must not be negative, got %v", s.InitialDelay)
	case s.SuccessThreshold < 1:
		return fieldErr("spec.successThreshold", "must be at least 1, got %d", s.SuccessThreshold)
	case s.FailureThreshold < 1:
		return fieldErr("spec.failureThreshold", "must be at least 1, got %d", s.FailureThreshold)
	}
	set := 0
	for _, p := range []bool{s.HTTPGet != nil, s.TCPSocket != nil, s.GRPC != nil, s.Exec != nil} {
		if p {
			set++
		}
	}
	if set > 1 {
		return fieldErr("spec", "exactly one action may be set, got %d", set)
	}
	switch s.Kind {
	case KindHTTP:
		if s.HTTPGet == nil {
			return fieldErr("spec.httpGet", "required for kind %q", s.Kind)
		}
		u, err := url.Parse(s.HTTPGet.URL)
		if err != nil {
			// url.Parse's error quotes the URL, which may hold credentials.
			return fieldErr("spec.httpGet.url", "not a valid URL")
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fieldErr("spec.httpGet.url", "scheme must be http or https, got %q", u.Scheme)
		}
		if u.Host == "" {
			return fieldErr("spec.httpGet.url", "host is required")
		}
	case KindTCP:
		if s.TCPSocket == nil {
			return fieldErr("spec.tcpSocket", "required for kind %q", s.Kind)
		}
		if err := checkAddress(s.TCPSocket.Address); err != nil {
			return fieldErr("spec.tcpSocket.address", "%v", err)
		}
	case KindGRPC:
		if s.GRPC == nil {
			return fieldErr("spec.grpc", "required for kind %q", s.Kind)
		}
		if err := checkAddress(s.GRPC.Address); err != nil {
			return fieldErr("spec.grpc.address", "%v", err)
		}
	case KindExec:
		if !allowExec {
			return fieldErr("spec.exec", "exec probes are not allowed for this target")
		}
		if s.Exec == nil || len(s.Exec.Command) == 0 || s.Exec.Command[0] == "" {
			return fieldErr("spec.exec.command", "a program is required")
		}
	default:
		return fieldErr("spec.kind", "unknown kind %q (want %s, %s, %s or %s)", s.Kind, KindHTTP, KindTCP, KindGRPC, KindExec)
	}
	return nil
}

func checkAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if host == "" || port == "" {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	return nil
}
