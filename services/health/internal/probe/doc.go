// Package probe is the health service's probe engine: it runs HTTP, TCP, gRPC
// health and exec probes against agent instances with Kubernetes' probe
// semantics (period, timeout, success and failure thresholds, initial delay),
// schedules many targets on a single timer heap feeding a bounded worker pool,
// and tracks each target's health state and recent results.
//
// Durations are time.Duration rather than Kubernetes' whole seconds so that
// tests can run sub-second periods; the meaning of each field is unchanged.
package probe
