// Package series stores metric time series in PostgreSQL (schema "metrics")
// and answers range queries over them: raw samples, plus rollups at one minute
// and one hour that long-range queries read instead of the raw data.
package series

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/platformportal/portal/platform/errs"
)

// Limits on what the store accepts. They keep a series identity inside a
// btree index entry and a query's answer inside a bounded amount of memory.
const (
	MaxNameLen       = 200
	MaxLabels        = 16
	MaxLabelNameLen  = 64
	MaxLabelValueLen = 100
	// MaxPoints is the most points one series may have in a query's answer.
	MaxPoints = 11_000
	// MaxSeries is the most series one query may match.
	MaxSeries = 100
	// MaxAppend is the most samples one Append call takes.
	MaxAppend = 100_000

	// maxLabelsJSON matches the CHECK on metrics.series.labels.
	maxLabelsJSON = 2048
)

// Resolutions the store keeps. A query reads the coarsest one whose bucket is
// no wider than its step.
const (
	Raw    time.Duration = 0
	Minute               = time.Minute
	Hour                 = time.Hour
)

var (
	namePattern      = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Labels are a series' dimensions, such as {"job": "api"}.
type Labels map[string]string

// Sample is one observation of a series.
type Sample struct {
	Name   string
	Labels Labels
	Time   time.Time
	Value  float64
}

// Agg is how a query combines the values that fall into one step.
type Agg string

// The supported aggregates.
const (
	Avg  Agg = "avg"
	Min  Agg = "min"
	Max  Agg = "max"
	Sum  Agg = "sum"
	Last Agg = "last"
)

// Query asks for the series named Name whose labels include all of Labels,
// from Start (inclusive) to End (exclusive), one point per Step.
type Query struct {
	Name   string
	Labels Labels // equality matchers; a series may have more labels
	Start  time.Time
	End    time.Time
	Step   time.Duration
	Agg    Agg // avg when empty
}

// Point is one value of a series at a time.
type Point struct {
	Time  time.Time
	Value float64
}

// Series is one series in a query's answer.
type Series struct {
	Name   string
	Labels Labels
	// Resolution is the stored resolution the points were computed from:
	// Raw, Minute or Hour.
	Resolution time.Duration
	// Points are in time order; a step with no data has no point.
	Points []Point
}

// Deleted counts the rows Retain removed.
type Deleted struct {
	Raw, Minute, Hour int64
}

// validateName checks a metric name; field is the request path to blame.
func validateName(field, name string) error {
	if name == "" {
		return errs.InvalidField(field, "is required")
	}
	if len(name) > MaxNameLen {
		return errs.InvalidField(field, "is %d bytes long, the limit is %d", len(name), MaxNameLen)
	}
	if !namePattern.MatchString(name) {
		return errs.InvalidField(field, "%q does not match %s", name, namePattern)
	}
	return nil
}

// validateLabels checks labels; field is the request path to blame.
func validateLabels(field string, labels Labels) error {
	if len(labels) > MaxLabels {
		return errs.InvalidField(field, "has %d labels, the limit is %d", len(labels), MaxLabels)
	}
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		switch {
		case len(k) > MaxLabelNameLen:
			return errs.InvalidField(field, "label name %.20q... is longer than %d bytes", k, MaxLabelNameLen)
		case !labelNamePattern.MatchString(k):
			return errs.InvalidField(field, "label name %q does not match %s", k, labelNamePattern)
		case strings.HasPrefix(k, "__"):
			return errs.InvalidField(field, "label name %q: names starting with __ are reserved", k)
		case v == "":
			// An empty value would make {a=""} and {} two series that
			// Prometheus users expect to be one.
			return errs.InvalidField(field+"."+k, "is empty")
		case len(v) > MaxLabelValueLen:
			return errs.InvalidField(field+"."+k, "is %d bytes long, the limit is %d", len(v), MaxLabelValueLen)
		}
	}
	if n := len(labelsJSON(labels)); n > maxLabelsJSON {
		return errs.InvalidField(field, "labels take %d bytes encoded, the limit is %d", n, maxLabelsJSON)
	}
	return nil
}

func validateSample(i int, s *Sample) error {
	field := fmt.Sprintf("samples[%d]", i)
	if err := validateName(field+".name", s.Name); err != nil {
		return err
	}
	if err := validateLabels(field+".labels", s.Labels); err != nil {
		return err
	}
	if s.Time.IsZero() {
		return errs.InvalidField(field+".time", "is required")
	}
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		// min, max and sum over NaN or ±Inf would poison whole rollup buckets.
		return errs.InvalidField(field+".value", "is %v; only finite values are stored", s.Value)
	}
	return nil
}

// validate checks q before any database work, so an absurd range is refused
// without costing a query or memory. It fills in the default aggregate.
func (q *Query) validate() error {
	if err := validateName("name", q.Name); err != nil {
		return err
	}
	if err := validateLabels("labels", q.Labels); err != nil {
		return err
	}
	switch {
	case q.Start.IsZero():
		return errs.InvalidField("start", "is required")
	case q.End.IsZero():
		return errs.InvalidField("end", "is required")
	case !q.Start.Before(q.End):
		return errs.InvalidField("end", "%s is not after start %s", q.End.Format(time.RFC3339Nano), q.Start.Format(time.RFC3339Nano))
	case q.Step <= 0:
		return errs.InvalidField("step", "is %s; it must be positive", q.Step)
	}
	// Sub saturates at about 292 years instead of overflowing, so the count
	// below is always a real (if huge) number.
	span := q.End.Sub(q.Start)
	points := span / q.Step
	if span%q.Step != 0 {
		points++
	}
	if points > MaxPoints {
		e := errs.InvalidField("step", "%s over %s gives %d points, the limit is %d; use a step of at least %s",
			q.Step, span, int64(points), MaxPoints, minStep(span))
		e.Reason = "TOO_MANY_POINTS"
		return e
	}
	switch q.Agg {
	case "":
		q.Agg = Avg
	case Avg, Min, Max, Sum, Last:
	default:
		return errs.InvalidField("agg", "%q is not one of avg, min, max, sum, last", q.Agg)
	}
	return nil
}

// minStep is the smallest whole-second step that keeps span within MaxPoints.
func minStep(span time.Duration) time.Duration {
	s := (span + MaxPoints - 1) / MaxPoints
	return ((s + time.Second - 1) / time.Second) * time.Second
}

// resolutionFor is the coarsest stored resolution whose bucket fits in step.
func resolutionFor(step time.Duration) time.Duration {
	switch {
	case step >= Hour:
		return Hour
	case step >= Minute:
		return Minute
	default:
		return Raw
	}
}

// labelsJSON is the jsonb text for labels; nil and empty are both {}.
func labelsJSON(l Labels) string {
	if len(l) == 0 {
		return "{}"
	}
	b, err := json.Marshal(map[string]string(l))
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return string(b)
}

func sortedKeys(l Labels) []string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// seriesKey identifies a series in memory: the name and the sorted labels.
func seriesKey(name string, l Labels) string {
	var b strings.Builder
	b.WriteString(name)
	for _, k := range sortedKeys(l) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
	}
	return b.String()
}

// floorTo truncates t to a multiple of d since the Unix epoch, in UTC.
func floorTo(t time.Time, d time.Duration) time.Time {
	return t.UTC().Truncate(d)
}
