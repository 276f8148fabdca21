package agentkit

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func (a *agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.handleHealthz)
	mux.HandleFunc("GET /readyz", a.handleReadyz)
	mux.HandleFunc("GET /config", a.handleConfig)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.opts.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

type healthBody struct {
	Status           string `json:"status"`
	Reason           string `json:"reason,omitempty"`
	Version          string `json:"version"`
	RequestedVersion string `json:"requestedVersion,omitempty"`
	Instance         string `json:"instance"`
	AgentID          string `json:"agentId"`
	Kind             string `json:"kind"`
}

// handleHealthz says the process is alive; only fail_health makes it fail,
// since a liveness failure gets the process restarted.
func (a *agent) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	body := healthBody{
		Status:           "ok",
		Version:          Version,
		RequestedVersion: a.s.RequestedVersion,
		Instance:         a.s.Instance,
		AgentID:          a.s.AgentID,
		Kind:             a.s.Kind,
	}
	code := http.StatusOK
	if a.conf.Load().k.failHealth {
		code = http.StatusInternalServerError
		body.Status = "failing"
		body.Reason = KeyFailHealth + " is set"
	}
	writeJSON(w, code, body)
}

type readyBody struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (a *agent) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if ready, reason := a.readiness(); !ready {
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "unavailable", Reason: reason})
		return
	}
	writeJSON(w, http.StatusOK, readyBody{Status: "ready"})
}

func (a *agent) handleConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.conf.Load().cfg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	// The status is sent; a failed write means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}
