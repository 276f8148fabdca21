package series

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/platformportal/portal/platform/errs"
	"github.com/platformportal/portal/platform/pgtest"
)

// t0 is an hour boundary, so bucket arithmetic in the tests is readable.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newStore returns a Store over a fresh, migrated database, whose clock reads now.
func newStore(tb testing.TB, now time.Time) (*Store, *pgxpool.Pool) {
	tb.Helper()
	pool := pgtest.NewPool(tb, pgtest.Migration{Schema: Schema, FS: Migrations()})
	s := New(pool)
	s.now = func() time.Time { return now }
	return s, pool
}

func mustAppend(tb testing.TB, s *Store, samples ...Sample) {
	tb.Helper()
	if err := s.Append(context.Background(), samples); err != nil {
		tb.Fatalf("Append(%d samples) = %v, want nil", len(samples), err)
	}
}

func count(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestAppendQueryRaw(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, at(time.Hour))
	ctx := context.Background()
	a := Labels{"job": "api", "instance": "a"}
	b := Labels{"job": "api", "instance": "b"}
	// One sample every 10 s for a minute; b is a's value times ten.
	var in []Sample
	for i := range 6 {
		in = append(in,
			Sample{Name: "http_requests", Labels: a, Time: at(time.Duration(i) * 10 * time.Second), Value: float64(i)},
			Sample{Name: "http_requests", Labels: b, Time: at(time.Duration(i) * 10 * time.Second), Value: float64(i * 10)})
	}
	mustAppend(t, s, in...)

	pts := func(vs ...float64) []Point {
		var p []Point
		for i, v := range vs {
			p = append(p, Point{Time: at(time.Duration(i) * 30 * time.Second), Value: v})
		}
		return p
	}
	tests := []struct {
		name   string
		labels Labels
		agg    Agg
		want   map[string][]Point // by instance
	}{
		{"avg both", Labels{"job": "api"}, Avg, map[string][]Point{"a": pts(1, 4), "b": pts(10, 40)}},
		{"default is avg", Labels{"job": "api"}, "", map[string][]Point{"a": pts(1, 4), "b": pts(10, 40)}},
		{"min", Labels{"instance": "a"}, Min, map[string][]Point{"a": pts(0, 3)}},
		{"max", Labels{"instance": "a"}, Max, map[string][]Point{"a": pts(2, 5)}},
		{"sum", Labels{"instance": "b"}, Sum, map[string][]Point{"b": pts(30, 120)}},
		{"last", nil, Last, map[string][]Point{"a": pts(2, 5), "b": pts(20, 50)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := Query{Name: "http_requests", Labels: tt.labels, Start: t0, End: at(time.Minute), Step: 30 * time.Second, Agg: tt.agg}
			got, err := s.Query(ctx, q)
			if err != nil {
				t.Fatalf("Query(%+v) = %v", q, err)
			}
			gotBy := map[string][]Point{}
			for _, ser := range got {
				if ser.Resolution != Raw {
					t.Errorf("Query(%+v) resolution = %v, want raw", q, ser.Resolution)
				}
				gotBy[ser.Labels["instance"]] = ser.Points
			}
			if !reflect.DeepEqual(gotBy, tt.want) {
				t.Errorf("Query(%+v) = %v, want %v", q, gotBy, tt.want)
			}
		})
	}
}

func TestAppendIdempotent(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, at(time.Hour))
	ctx := context.Background()
	batch := []Sample{
		{Name: "up", Labels: Labels{"job": "api", "zone": "a"}, Time: at(0), Value: 1},
		{Name: "up", Labels: Labels{"zone": "a", "job": "api"}, Time: at(time.Second), Value: 1},
		// Nanoseconds below PostgreSQL's microseconds: the same row as a retry.
		{Name: "up", Labels: Labels{"job": "api", "zone": "a"}, Time: at(2*time.Second + 300), Value: 2},
	}
	for range 3 {
		mustAppend(t, s, batch...)
	}
	mustAppend(t, s, Sample{Name: "up", Labels: Labels{"job": "api", "zone": "a"}, Time: at(2 * time.Second), Value: 2})
	if got := count(t, pool, `SELECT count(*) FROM metrics.series`); got != 1 {
		t.Errorf("series rows = %d, want 1", got)
	}
	if got := count(t, pool, `SELECT count(*) FROM metrics.samples`); got != 3 {
		t.Errorf("sample rows = %d, want 3", got)
	}
	// A duplicate inside one batch and a correction: the last value wins.
	mustAppend(t, s,
		Sample{Name: "up", Labels: Labels{"job": "api", "zone": "a"}, Time: at(0), Value: 5},
		Sample{Name: "up", Labels: Labels{"job": "api", "zone": "a"}, Time: at(0), Value: 7})
	got, err := s.Query(ctx, Query{Name: "up", Start: t0, End: at(time.Second), Step: time.Second, Agg: Last})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Points, []Point{{Time: t0, Value: 7}}) {
		t.Errorf("Query after correction = %+v, want one point 7 at t0", got)
	}
	latest, err := s.Latest(ctx, "up", Labels{"zone": "a", "job": "api"})
	if err != nil {
		t.Fatalf("Latest = %v", err)
	}
	if !latest.Time.Equal(at(2*time.Second)) || latest.Value != 2 {
		t.Errorf("Latest = %v at %v, want 2 at %v", latest.Value, latest.Time, at(2*time.Second))
	}
	if _, err := s.Latest(ctx, "up", Labels{"job": "api"}); !errs.Is(err, errs.NotFound) {
		t.Errorf("Latest(up{job=api}) = %v, want NotFound (labels must match exactly)", err)
	}
}

type rollupRow struct {
	Bucket              time.Time
	Min, Max, Sum, Last float64
	Count               int64
}

func rollups(tb testing.TB, pool *pgxpool.Pool, table string) []rollupRow {
	tb.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT bucket, min, max, sum, count, last FROM metrics.`+table+` ORDER BY series_id, bucket`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []rollupRow
	for rows.Next() {
		var r rollupRow
		if err := rows.Scan(&r.Bucket, &r.Min, &r.Max, &r.Sum, &r.Count, &r.Last); err != nil {
			tb.Fatal(err)
		}
		r.Bucket = r.Bucket.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestRollup(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, at(24*time.Hour))
	ctx := context.Background()
	l := Labels{"job": "api"}
	// Samples straddling minute and hour boundaries, appended out of order.
	mustAppend(t, s,
		Sample{Name: "temp", Labels: l, Time: at(59*time.Minute + 59*time.Second), Value: 7},
		Sample{Name: "temp", Labels: l, Time: at(59*time.Minute + 30*time.Second), Value: 9},
		Sample{Name: "temp", Labels: l, Time: at(59 * time.Minute), Value: -1},
		Sample{Name: "temp", Labels: l, Time: at(time.Hour), Value: 4},
		Sample{Name: "temp", Labels: l, Time: at(time.Hour + 59*time.Second), Value: 3},
		Sample{Name: "temp", Labels: l, Time: at(time.Hour + time.Minute), Value: 100},
		Sample{Name: "temp", Labels: l, Time: at(2 * time.Hour), Value: 50}, // not complete yet
	)
	if err := s.Rollup(ctx, at(2*time.Hour+30*time.Second)); err != nil {
		t.Fatalf("Rollup = %v", err)
	}
	wantMin := []rollupRow{
		{Bucket: at(59 * time.Minute), Min: -1, Max: 9, Sum: 15, Count: 3, Last: 7},
		{Bucket: at(time.Hour), Min: 3, Max: 4, Sum: 7, Count: 2, Last: 3},
		{Bucket: at(time.Hour + time.Minute), Min: 100, Max: 100, Sum: 100, Count: 1, Last: 100},
	}
	if got := rollups(t, pool, "rollup_1m"); !reflect.DeepEqual(got, wantMin) {
		t.Errorf("rollup_1m = %+v, want %+v", got, wantMin)
	}
	wantHour := []rollupRow{
		{Bucket: at(0), Min: -1, Max: 9, Sum: 15, Count: 3, Last: 7},
		{Bucket: at(time.Hour), Min: 3, Max: 100, Sum: 107, Count: 3, Last: 100},
	}
	if got := rollups(t, pool, "rollup_1h"); !reflect.DeepEqual(got, wantHour) {
		t.Errorf("rollup_1h = %+v, want %+v", got, wantHour)
	}

	// A late sample in a rolled-up minute, and a second run: both buckets
	// are computed again, and a repeated run changes nothing.
	mustAppend(t, s, Sample{Name: "temp", Labels: l, Time: at(time.Hour + 30*time.Second), Value: -20})
	for range 2 {
		if err := s.Rollup(ctx, at(2*time.Hour+30*time.Second)); err != nil {
			t.Fatalf("Rollup = %v", err)
		}
	}
	wantMin[1] = rollupRow{Bucket: at(time.Hour), Min: -20, Max: 4, Sum: -13, Count: 3, Last: 3}
	wantHour[1] = rollupRow{Bucket: at(time.Hour), Min: -20, Max: 100, Sum: 87, Count: 4, Last: 100}
	if got := rollups(t, pool, "rollup_1m"); !reflect.DeepEqual(got, wantMin) {
		t.Errorf("after a late sample, rollup_1m = %+v, want %+v", got, wantMin)
	}
	if got := rollups(t, pool, "rollup_1h"); !reflect.DeepEqual(got, wantHour) {
		t.Errorf("after a late sample, rollup_1h = %+v, want %+v", got, wantHour)
	}

	// A query at an hour step reads the hour rollups for complete hours and
	// the raw samples after them.
	got, err := s.Query(ctx, Query{Name: "temp", Start: at(time.Hour), End: at(2*time.Hour + time.Minute), Step: time.Hour, Agg: Max})
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{Time: at(time.Hour), Value: 100}, {Time: at(2 * time.Hour), Value: 50}}
	if len(got) != 1 || got[0].Resolution != Hour || !reflect.DeepEqual(got[0].Points, want) {
		t.Errorf("Query hourly = %+v, want hour resolution and %v", got, want)
	}
}

func TestQuery30DaysUsesHourly(t *testing.T) {
	t.Parallel()
	end := t0.Add(30 * 24 * time.Hour)
	s, pool := newStore(t, end)
	ctx := context.Background()
	// One sample every 10 minutes, value = hours since t0.
	var in []Sample
	for d := time.Duration(0); d < 30*24*time.Hour; d += 10 * time.Minute {
		in = append(in, Sample{Name: "load", Labels: Labels{"host": "h1"}, Time: at(d), Value: math.Floor(d.Hours())})
	}
	mustAppend(t, s, in...)
	if err := s.Rollup(ctx, end); err != nil {
		t.Fatalf("Rollup = %v", err)
	}
	q := Query{Name: "load", Start: t0, End: end, Step: 24 * time.Hour, Agg: Avg}
	check := func(label string) {
		t.Helper()
		got, err := s.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: Query = %v", label, err)
		}
		if len(got) != 1 || got[0].Resolution != Hour || len(got[0].Points) != 30 {
			t.Fatalf("%s: Query = %d series, want one at hour resolution with 30 points: %+v", label, len(got), got)
		}
		for i, p := range got[0].Points {
			if want := float64(i*24) + 11.5; p.Value != want || !p.Time.Equal(at(time.Duration(i)*24*time.Hour)) {
				t.Errorf("%s: point %d = %v at %v, want %v", label, i, p.Value, p.Time, want)
			}
		}
	}
	check("with all data")
	// Unaligned edges come from finer data and no bucket leaks past them:
	// [0:30, 1:30) is raw 0:30-0:50 (value 0) plus the 1:00 hour (6 x 1);
	// [1:30, 2:30) is minutes 2:00-2:20 (3 x 2), not the whole 2:00 hour.
	edges := Query{Name: "load", Start: at(30 * time.Minute), End: at(2*time.Hour + 30*time.Minute), Step: time.Hour, Agg: Sum}
	got, err := s.Query(ctx, edges)
	if err != nil {
		t.Fatalf("Query(%+v) = %v", edges, err)
	}
	want := []Point{{Time: at(30 * time.Minute), Value: 6}, {Time: at(90 * time.Minute), Value: 6}}
	if len(got) != 1 || got[0].Resolution != Hour || !reflect.DeepEqual(got[0].Points, want) {
		t.Errorf("Query(%+v) = %+v, want hour resolution and %v", edges, got, want)
	}
	// Proof it reads the hour rollups: the answer survives losing the rest.
	if _, err := pool.Exec(ctx, `DELETE FROM metrics.samples; DELETE FROM metrics.rollup_1m`); err != nil {
		t.Fatal(err)
	}
	check("hour rollups only")
}

func TestRetain(t *testing.T) {
	t.Parallel()
	now := at(10 * 24 * time.Hour)
	s, pool := newStore(t, now)
	ctx := context.Background()
	// One sample an hour for ten days.
	var in []Sample
	for d := time.Duration(0); d < 10*24*time.Hour; d += time.Hour {
		in = append(in, Sample{Name: "x", Time: at(d), Value: 1})
	}
	mustAppend(t, s, in...)

	// Before any rollup, raw data and minute rollups are kept whatever their age.
	if d, err := s.Retain(ctx, time.Hour, time.Hour, 1000*time.Hour); err != nil || d != (Deleted{}) {
		t.Fatalf("Retain before Rollup = %+v, %v; want nothing deleted", d, err)
	}
	if err := s.Rollup(ctx, now); err != nil {
		t.Fatal(err)
	}
	d, err := s.Retain(ctx, 2*24*time.Hour, 5*24*time.Hour, 8*24*time.Hour)
	if err != nil {
		t.Fatalf("Retain = %v", err)
	}
	if want := (Deleted{Raw: 8 * 24, Minute: 5 * 24, Hour: 2 * 24}); d != want {
		t.Errorf("Retain deleted %+v, want %+v", d, want)
	}
	for _, c := range []struct {
		table, col string
		keep       time.Duration
	}{{"samples", "time", 2 * 24 * time.Hour}, {"rollup_1m", "bucket", 5 * 24 * time.Hour}, {"rollup_1h", "bucket", 8 * 24 * time.Hour}} {
		sql := fmt.Sprintf(`SELECT count(*) FROM metrics.%s WHERE %s < $1`, c.table, c.col)
		if n := count(t, pool, sql, now.Add(-c.keep)); n != 0 {
			t.Errorf("%s: %d rows older than %s left", c.table, n, c.keep)
		}
		sql = fmt.Sprintf(`SELECT count(*) FROM metrics.%s`, c.table)
		if n := count(t, pool, sql); n != int64(c.keep/time.Hour) {
			t.Errorf("%s: %d rows left, want %d", c.table, n, c.keep/time.Hour)
		}
	}
	// A late sample is kept, however old, until it is rolled up.
	mustAppend(t, s, Sample{Name: "x", Time: at(30 * time.Minute), Value: 1})
	if d, err := s.Retain(ctx, 2*24*time.Hour, 5*24*time.Hour, 8*24*time.Hour); err != nil || d.Raw != 0 {
		t.Errorf("Retain with a late sample pending = %+v, %v; want no raw rows deleted", d, err)
	}
	if err := s.Rollup(ctx, now); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Retain(ctx, 2*24*time.Hour, 5*24*time.Hour, 8*24*time.Hour); err != nil || d.Raw != 1 {
		t.Errorf("Retain after its rollup = %+v, %v; want the late sample deleted", d, err)
	}
	for _, bad := range [][3]time.Duration{{0, time.Hour, time.Hour}, {time.Hour, time.Minute, time.Hour}, {time.Minute, time.Hour, time.Minute}} {
		if _, err := s.Retain(ctx, bad[0], bad[1], bad[2]); !errs.Is(err, errs.Invalid) {
			t.Errorf("Retain(%v) = %v, want Invalid", bad, err)
		}
	}
}

func TestQueryInvalid(t *testing.T) {
	t.Parallel()
	// No pool: a query that got as far as the database would panic.
	offline := New(nil)
	ok := Query{Name: "up", Start: t0, End: at(time.Hour), Step: time.Minute}
	tests := []struct {
		name   string
		edit   func(*Query)
		field  string
		reason string
	}{
		{"no name", func(q *Query) { q.Name = "" }, "name", ""},
		{"bad name", func(q *Query) { q.Name = "1up" }, "name", ""},
		{"bad label name", func(q *Query) { q.Labels = Labels{"a-b": "x"} }, "labels", ""},
		{"reserved label", func(q *Query) { q.Labels = Labels{"__name__": "x"} }, "labels", ""},
		{"no start", func(q *Query) { q.Start = time.Time{} }, "start", ""},
		{"start after end", func(q *Query) { q.Start = at(2 * time.Hour) }, "end", ""},
		{"start equals end", func(q *Query) { q.End = q.Start }, "end", ""},
		{"zero step", func(q *Query) { q.Step = 0 }, "step", ""},
		{"negative step", func(q *Query) { q.Step = -time.Second }, "step", ""},
		{"one point too many", func(q *Query) { q.End = q.Start.Add(MaxPoints*time.Second + 1); q.Step = time.Second }, "step", "TOO_MANY_POINTS"},
		{"ten years at 1s", func(q *Query) { q.End = q.Start.AddDate(10, 0, 0); q.Step = time.Second }, "step", "TOO_MANY_POINTS"},
		{"a thousand years at 1ns", func(q *Query) { q.Start = time.Unix(0, 0); q.End = q.Start.AddDate(1000, 0, 0); q.Step = 1 }, "step", "TOO_MANY_POINTS"},
		{"bad agg", func(q *Query) { q.Agg = "median" }, "agg", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := ok
			tt.edit(&q)
			_, err := offline.Query(context.Background(), q)
			e, isErr := errs.As(err)
			if !isErr || e.Kind != errs.Invalid || e.Field != tt.field {
				t.Fatalf("Query(%+v) = %v, want Invalid on field %s", q, err, tt.field)
			}
			if tt.reason != "" && e.Reason != tt.reason {
				t.Errorf("Query(%+v) reason = %s, want %s", q, e.Reason, tt.reason)
			}
		})
	}
	t.Run("exactly the limit is allowed", func(t *testing.T) {
		q := ok
		q.End, q.Step = q.Start.Add(MaxPoints*time.Second), time.Second
		if err := q.validate(); err != nil {
			t.Errorf("validate(%d points) = %v, want nil", MaxPoints, err)
		}
	})
}

func TestNotFoundAndBadAppend(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, at(time.Hour))
	ctx := context.Background()
	mustAppend(t, s, Sample{Name: "up", Labels: Labels{"job": "api"}, Time: t0, Value: 1})
	for _, q := range []Query{
		{Name: "down", Start: t0, End: at(time.Hour), Step: time.Minute},
		{Name: "up", Labels: Labels{"job": "web"}, Start: t0, End: at(time.Hour), Step: time.Minute},
	} {
		if _, err := s.Query(ctx, q); !errs.Is(err, errs.NotFound) {
			t.Errorf("Query(%s%v) = %v, want NotFound", q.Name, q.Labels, err)
		}
	}
	bad := []struct {
		name  string
		s     Sample
		field string
	}{
		{"bad name", Sample{Name: "a b", Time: t0}, "samples[1].name"},
		{"NaN", Sample{Name: "a", Time: t0, Value: math.NaN()}, "samples[1].value"},
		{"no time", Sample{Name: "a"}, "samples[1].time"},
		{"empty label", Sample{Name: "a", Time: t0, Labels: Labels{"k": ""}}, "samples[1].labels.k"},
	}
	for _, tt := range bad {
		err := s.Append(ctx, []Sample{{Name: "ok", Time: t0}, tt.s})
		if e, isErr := errs.As(err); !isErr || e.Kind != errs.Invalid || e.Field != tt.field {
			t.Errorf("Append(%s) = %v, want Invalid on %s", tt.name, err, tt.field)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM metrics.series WHERE name = 'ok'`); n != 0 {
		t.Errorf("a refused batch created %d series, want 0", n)
	}
}

func TestPlanRanges(t *testing.T) {
	t.Parallel()
	ptr := func(t time.Time) *time.Time { return &t }
	m := func(min int) time.Time { return at(time.Duration(min) * time.Minute) }
	s30 := 30 * time.Second
	tests := []struct {
		name       string
		start, end time.Time
		res        time.Duration
		done       *time.Time
		want       ranges
		wantRes    time.Duration
	}{
		{"no rollups yet", m(0), m(600), Hour, nil, ranges{m(0), m(0), m(0), m(0), m(0), m(600)}, Raw},
		{"raw step", m(0), m(600), Raw, ptr(m(600)), ranges{m(0), m(0), m(0), m(0), m(0), m(600)}, Raw},
		{"minute step", m(0), m(600), Minute, ptr(m(300)), ranges{m(0), m(0), m(0), m(0), m(300), m(600)}, Minute},
		{"hour step, aligned", m(0), m(600), Hour, ptr(m(900)), ranges{m(0), m(0), m(0), m(600), m(600), m(600)}, Hour},
		{"hour step, rollups behind", m(0), m(600), Hour, ptr(m(150)), ranges{m(0), m(0), m(0), m(120), m(150), m(600)}, Hour},
		{"hour step, unaligned edges", m(0).Add(s30), m(150).Add(s30), Hour, ptr(m(900)),
			ranges{m(0).Add(s30), m(1), m(60), m(120), m(150), m(150).Add(s30)}, Hour},
		{"hour step, less than an hour", m(10), m(50), Hour, ptr(m(900)), ranges{m(10), m(10), m(50), m(50), m(50), m(50)}, Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planRanges(tt.start, tt.end, tt.res, tt.done)
			if got != tt.want || got.resolution() != tt.wantRes {
				t.Errorf("planRanges = %+v (%v), want %+v (%v)", got, got.resolution(), tt.want, tt.wantRes)
			}
		})
	}
}

// TestAppendConcurrentNewSeries has writers create the same series at once:
// each gets the one id, whoever inserted it.
func TestAppendConcurrentNewSeries(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, at(time.Hour))
	const writers = 8
	errc := make(chan error, writers)
	for w := range writers {
		go func() {
			var batch []Sample
			for i := range 50 {
				batch = append(batch, Sample{Name: "race", Labels: Labels{"n": fmt.Sprint(i % 5)}, Time: at(time.Duration(w*50+i) * time.Second), Value: 1})
			}
			errc <- s.Append(context.Background(), batch)
		}()
	}
	for range writers {
		if err := <-errc; err != nil {
			t.Errorf("Append = %v", err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM metrics.series`); n != 5 {
		t.Errorf("series rows = %d, want 5", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM metrics.samples`); n != writers*50 {
		t.Errorf("sample rows = %d, want %d", n, writers*50)
	}
}
