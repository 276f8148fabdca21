package agentkit

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	kind     string
	tasks    *prometheus.CounterVec
	duration prometheus.Observer
	inFlight prometheus.Gauge
	paused   prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry, s settings) (*metrics, error) {
	m := &metrics{kind: s.Kind}
	tasks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agent_tasks_total",
		Help: "Tasks finished, by outcome (ok or error).",
	}, []string{"kind", "outcome"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "agent_task_duration_seconds",
		Help:    "Time from taking a task to having its result, knobs included.",
		Buckets: prometheus.DefBuckets,
	}, []string{"kind"})
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "agent_tasks_in_flight",
		Help: "Tasks taken and not yet finished.",
	})
	paused := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "agent_paused",
		Help: "1 while the agent is paused by a control message.",
	})
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "agent_info",
		Help:        "Always 1; its labels describe the running agent.",
		ConstLabels: prometheus.Labels{"kind": s.Kind, "version": Version, "instance": s.Instance},
	})
	info.Set(1)
	for _, c := range []prometheus.Collector{tasks, duration, inFlight, paused, info} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	// A caller's registry may already have the runtime collectors; that is
	// not an error, the values are the same.
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return nil, fmt.Errorf("register runtime metrics: %w", err)
			}
		}
	}
	// Both outcomes exist from the start, so a dashboard sees 0, not nothing.
	tasks.WithLabelValues(s.Kind, outcomeOK)
	tasks.WithLabelValues(s.Kind, outcomeError)
	m.tasks = tasks
	m.duration = duration.WithLabelValues(s.Kind)
	m.inFlight = inFlight
	m.paused = paused
	return m, nil
}

// finished records one task's outcome and how long it took.
func (m *metrics) finished(ok bool, d time.Duration) {
	outcome := outcomeOK
	if !ok {
		outcome = outcomeError
	}
	m.tasks.WithLabelValues(m.kind, outcome).Inc()
	m.duration.Observe(d.Seconds())
	// The task leaves the in-flight gauge here, before its result is sent, so
	// whoever has the result never sees it still counted.
	m.inFlight.Dec()
}

const (
	outcomeOK    = "ok"
	outcomeError = "error"
)
