package series

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/platformportal/portal/platform/errs"
	pgplatform "github.com/platformportal/portal/platform/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema is the service's PostgreSQL schema.
const Schema = "metrics"

// Migrations returns the embedded migrations, for platform/postgres.Migrate.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// rollupLock is the advisory lock id that orders appends against rollups:
// appends hold it shared, Rollup exclusively, so a rollup never reads past a
// sample whose transaction is still open (and would then never see it).
const rollupLock = 0x6d6574726963 // "metric"

// Batch sizes bound each statement's parameters and each delete's locks.
const (
	appendBatch = 5_000
	retainBatch = 10_000
	// rollupChunk is how much raw time one Rollup transaction covers, so a
	// long backlog is worked off in short transactions.
	rollupChunk = 24 * time.Hour
)

// Store keeps series in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns a Store over a pool whose database has Migrations applied.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, now: time.Now} }

// upsertSeriesSQL creates the batch's series identities, in a fixed order so
// two writers creating the same new series cannot deadlock, and returns each
// row's id in input order (WITH ORDINALITY), so duplicates need no lookup by
// key in Go.
const upsertSeriesSQL = `
WITH input AS (
    SELECT u.name, u.labels, u.ord
    FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS u(name, labels, ord)
), ins AS (
    INSERT INTO metrics.series (name, labels)
    SELECT DISTINCT name, labels FROM input ORDER BY name, labels
    ON CONFLICT (name, labels) DO NOTHING
    RETURNING id, name, labels
)
SELECT i.ord, COALESCE(ins.id, s.id)
FROM input i
LEFT JOIN ins ON ins.name = i.name AND ins.labels = i.labels
LEFT JOIN metrics.series s ON s.name = i.name AND s.labels = i.labels
ORDER BY i.ord`

// A re-sent sample with the same value changes nothing (no dead tuple); a new
// value for the same (series, time) replaces the old one.
const insertSamplesSQL = `
INSERT INTO metrics.samples (series_id, time, value)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::float8[])
ON CONFLICT (series_id, time) DO UPDATE SET value = EXCLUDED.value
WHERE metrics.samples.value IS DISTINCT FROM EXCLUDED.value`

// Samples below the rollup watermark are late: remember the earliest so the
// next Rollup computes their buckets again.
const markDirtySQL = `
UPDATE metrics.rollup_state
SET dirty_from = LEAST(COALESCE(dirty_from, $1), $1)
WHERE done_until IS NOT NULL AND $1 < done_until`

// Append stores samples, creating series as needed. It is idempotent on
// (series, time): appending a sample again is a no-op, and a new value for an
// existing (series, time) replaces the old one. It returns Invalid errors for
// bad samples (naming samples[i]) and for more than MaxAppend samples.
func (s *Store) Append(ctx context.Context, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	if len(samples) > MaxAppend {
		return errs.InvalidField("samples", "has %d samples, the limit per call is %d", len(samples), MaxAppend)
	}
	for i := range samples {
		if err := validateSample(i, &samples[i]); err != nil {
			return err
		}
	}
	// Sort by (series, time) so writers touch rows in one global order and
	// overlapping batches wait for each other instead of deadlocking; then
	// keep one row per (series, time), the last given winning, as ON
	// CONFLICT cannot touch a row twice in one statement.
	type keyed struct {
		key string
		Sample
	}
	all := make([]keyed, len(samples))
	for i, smp := range samples {
		// PostgreSQL keeps microseconds; truncate here so a retried sample is
		// the same row and not a neighbour.
		smp.Time = smp.Time.UTC().Truncate(time.Microsecond)
		all[i] = keyed{seriesKey(smp.Name, smp.Labels), smp}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].key != all[j].key {
			return all[i].key < all[j].key
		}
		return all[i].Time.Before(all[j].Time)
	})
	rows := make([]Sample, 0, len(all))
	for i, k := range all {
		if i+1 < len(all) && all[i+1].key == k.key && all[i+1].Time.Equal(k.Time) {
			continue // a later duplicate follows
		}
		rows = append(rows, k.Sample)
	}
	minTime := rows[0].Time
	for _, r := range rows {
		if r.Time.Before(minTime) {
			minTime = r.Time
		}
	}

	return pgplatform.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, int64(rollupLock)); err != nil {
			return fmt.Errorf("append samples: take the rollup lock: %w", err)
		}
		for start := 0; start < len(rows); start += appendBatch {
			batch := rows[start:min(start+appendBatch, len(rows))]
			ids, err := upsertSeries(ctx, tx, batch)
			if err != nil {
				return err
			}
			times := make([]time.Time, len(batch))
			values := make([]float64, len(batch))
			for i, r := range batch {
				times[i], values[i] = r.Time, r.Value
			}
			if _, err := tx.Exec(ctx, insertSamplesSQL, ids, times, values); err != nil {
				return fmt.Errorf("append %d samples: %w", len(batch), err)
			}
		}
		if _, err := tx.Exec(ctx, markDirtySQL, minTime); err != nil {
			return fmt.Errorf("append samples: mark late samples for rollup: %w", err)
		}
		return nil
	})
}

// upsertSeries returns the series id of each sample in batch, in order.
func upsertSeries(ctx context.Context, tx pgx.Tx, batch []Sample) ([]int64, error) {
	names := make([]string, len(batch))
	labels := make([]string, len(batch))
	for i, r := range batch {
		names[i], labels[i] = r.Name, labelsJSON(r.Labels)
	}
	// A series another transaction commits while this statement waits on
	// its conflict is in neither ins nor the statement's snapshot, so its id
	// comes back NULL; the retry's new snapshot sees it.
	for attempt := 0; attempt < 3; attempt++ {
		rows, err := tx.Query(ctx, upsertSeriesSQL, names, labels)
		if err != nil {
			return nil, fmt.Errorf("create series: %w", err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*int64, error) {
			var ord int64
			var id *int64
			err := r.Scan(&ord, &id)
			return id, err
		})
		if err != nil {
			return nil, fmt.Errorf("create series: %w", err)
		}
		if len(got) != len(batch) {
			return nil, fmt.Errorf("create series: got %d ids for %d samples", len(got), len(batch))
		}
		ids := make([]int64, len(got))
		for i, id := range got {
			if id == nil {
				ids = nil
				break
			}
			ids[i] = *id
		}
		if ids != nil {
			return ids, nil
		}
	}
	return nil, errs.E(errs.Unavailable, "SERIES_RACE", "create series: concurrent writers kept racing; retry the append")
}

// The epoch origin makes date_bin's buckets the same as Go's
// time.Truncate on UTC times.
const rollupMinuteSQL = `
INSERT INTO metrics.rollup_1m (series_id, bucket, min, max, sum, count, last, last_time)
SELECT series_id, date_bin('1 minute', time, TIMESTAMPTZ 'epoch'),
       min(value), max(value), sum(value), count(*),
       (array_agg(value ORDER BY time DESC))[1], max(time)
FROM metrics.samples
WHERE time >= $1 AND time < $2
GROUP BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET
    min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum,
    count = EXCLUDED.count, last = EXCLUDED.last, last_time = EXCLUDED.last_time`

const rollupHourSQL = `
INSERT INTO metrics.rollup_1h (series_id, bucket, min, max, sum, count, last, last_time)
SELECT series_id, date_bin('1 hour', bucket, TIMESTAMPTZ 'epoch'),
       min(min), max(max), sum(sum), sum(count),
       (array_agg(last ORDER BY last_time DESC))[1], max(last_time)
FROM metrics.rollup_1m
WHERE bucket >= $1 AND bucket < $2
GROUP BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET
    min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum,
    count = EXCLUDED.count, last = EXCLUDED.last, last_time = EXCLUDED.last_time`

// Rollup computes the one-minute rollups of every complete minute before
// until, and the one-hour rollups of every complete hour before until, from
// where the last call stopped (or the earliest late sample appended since).
// The caller says which data is complete by choosing until: samples appended
// later for earlier times are rolled up again by the next call. Buckets are
// recomputed from the finer data, so running it twice is harmless.
func (s *Store) Rollup(ctx context.Context, until time.Time) error {
	end := floorTo(until, Minute)
	for {
		more, err := s.rollupChunk(ctx, end)
		if err != nil {
			return fmt.Errorf("rollup until %s: %w", end.Format(time.RFC3339), err)
		}
		if !more {
			return nil
		}
	}
}

// rollupChunk rolls up at most rollupChunk of raw time in one transaction and
// reports whether there is more to do before end.
func (s *Store) rollupChunk(ctx context.Context, end time.Time) (more bool, err error) {
	err = pgplatform.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(rollupLock)); err != nil {
			return fmt.Errorf("take the rollup lock: %w", err)
		}
		var doneUntil, dirtyFrom *time.Time
		if err := tx.QueryRow(ctx, `SELECT done_until, dirty_from FROM metrics.rollup_state`).Scan(&doneUntil, &dirtyFrom); err != nil {
			return fmt.Errorf("read the rollup state: %w", err)
		}
		var clean time.Time
		switch {
		case doneUntil == nil:
			var first *time.Time
			if err := tx.QueryRow(ctx, `SELECT min(time) FROM metrics.samples`).Scan(&first); err != nil {
				return fmt.Errorf("find the first sample: %w", err)
			}
			if first == nil {
				// Nothing yet: later samples before end count as late.
				_, err := tx.Exec(ctx, `UPDATE metrics.rollup_state SET done_until = $1`, end)
				if err != nil {
					return fmt.Errorf("record the rollup state: %w", err)
				}
				return nil
			}
			clean = *first
		case dirtyFrom != nil && dirtyFrom.Before(*doneUntil):
			clean = *dirtyFrom
		default:
			clean = *doneUntil
		}
		if !clean.Before(end) {
			return nil // an earlier call went as far
		}
		// Start at the hour so that hour's rollup is computed from all of its
		// minutes, not just those after the watermark.
		from := floorTo(clean, Hour)
		to := from.Add(rollupChunk)
		if !to.Before(end) {
			to = end
		}
		if _, err := tx.Exec(ctx, rollupMinuteSQL, from, to); err != nil {
			return fmt.Errorf("roll up minutes %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		if hourEnd := floorTo(to, Hour); hourEnd.After(from) {
			if _, err := tx.Exec(ctx, rollupHourSQL, from, hourEnd); err != nil {
				return fmt.Errorf("roll up hours %s to %s: %w", from.Format(time.RFC3339), hourEnd.Format(time.RFC3339), err)
			}
		}
		// Appends wait on the lock we hold, so nothing got dirty meanwhile:
		// everything before to is clean now.
		newDone := to
		var newDirty *time.Time
		if doneUntil != nil && doneUntil.After(to) {
			newDone, newDirty = *doneUntil, &to
		}
		if _, err := tx.Exec(ctx, `UPDATE metrics.rollup_state SET done_until = $1, dirty_from = $2`, newDone, newDirty); err != nil {
			return fmt.Errorf("record the rollup state: %w", err)
		}
		more = to.Before(end)
		return nil
	})
	return more, err
}

// Deletes in batches by ctid so each statement holds few locks and a huge
// backlog never becomes one long transaction.
var retainSQL = map[string]string{
	"samples":   `DELETE FROM metrics.samples WHERE ctid = ANY (ARRAY(SELECT ctid FROM metrics.samples WHERE time < $1 LIMIT $2))`,
	"rollup_1m": `DELETE FROM metrics.rollup_1m WHERE ctid = ANY (ARRAY(SELECT ctid FROM metrics.rollup_1m WHERE bucket < $1 LIMIT $2))`,
	"rollup_1h": `DELETE FROM metrics.rollup_1h WHERE ctid = ANY (ARRAY(SELECT ctid FROM metrics.rollup_1h WHERE bucket < $1 LIMIT $2))`,
}

// Retain deletes raw samples older than rawFor, minute rollups older than
// minuteFor and hour rollups older than hourFor, in batches. It never deletes
// data the next coarser resolution has not been rolled up from yet, so a
// stalled Rollup delays retention instead of losing data. It returns Invalid
// for a duration that is not positive, or shorter than a finer resolution's.
func (s *Store) Retain(ctx context.Context, rawFor, minuteFor, hourFor time.Duration) (Deleted, error) {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"raw_for", rawFor}, {"minute_for", minuteFor}, {"hour_for", hourFor}} {
		if d.v <= 0 {
			return Deleted{}, errs.InvalidField(d.field, "is %s; it must be positive", d.v)
		}
	}
	// Coarser data must outlive finer: an hour rolled up again from partly
	// deleted minutes would lose data.
	if minuteFor < rawFor {
		return Deleted{}, errs.InvalidField("minute_for", "%s is shorter than raw_for %s", minuteFor, rawFor)
	}
	if hourFor < minuteFor {
		return Deleted{}, errs.InvalidField("hour_for", "%s is shorter than minute_for %s", hourFor, minuteFor)
	}
	// Late samples not rolled up yet are as precious as new ones.
	var doneUntil *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT LEAST(done_until, dirty_from) FROM metrics.rollup_state`).Scan(&doneUntil); err != nil {
		return Deleted{}, fmt.Errorf("retain: read the rollup state: %w", err)
	}
	now := s.now()
	rawCut, minuteCut := now.Add(-rawFor), now.Add(-minuteFor)
	if doneUntil == nil {
		rawCut, minuteCut = time.Time{}, time.Time{}
	} else {
		rawCut = earliest(rawCut, *doneUntil)
		minuteCut = earliest(minuteCut, floorTo(*doneUntil, Hour))
	}
	var d Deleted
	var err error
	if d.Raw, err = s.deleteBefore(ctx, "samples", rawCut); err != nil {
		return d, err
	}
	if d.Minute, err = s.deleteBefore(ctx, "rollup_1m", minuteCut); err != nil {
		return d, err
	}
	if d.Hour, err = s.deleteBefore(ctx, "rollup_1h", now.Add(-hourFor)); err != nil {
		return d, err
	}
	return d, nil
}

func (s *Store) deleteBefore(ctx context.Context, table string, cut time.Time) (int64, error) {
	if cut.IsZero() {
		return 0, nil
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, retainSQL[table], cut, retainBatch)
		if err != nil {
			return total, fmt.Errorf("retain: delete from %s before %s: %w", table, cut.Format(time.RFC3339), err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < retainBatch {
			return total, nil
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// One more than MaxSeries, to tell "exactly the limit" from "too many".
const matchSeriesSQL = `
SELECT id, labels FROM metrics.series
WHERE name = $1 AND labels @> $2::jsonb
ORDER BY labels
LIMIT $3`

// querySQL reads each stretch of [start, end) from one source, split at
// boundaries that planRanges puts in order: raw samples in [$2, $3) and
// [$6, $7), minute rollups in [$3, $4) and [$5, $6), hour rollups in [$4, $5).
// So the coarse middle is read from rollups, the unaligned edges and the
// newest, not yet rolled up data from finer ones, and no bucket reaches past
// start or end. Each row goes to the step holding its bucket's start; %s is
// the aggregate, one of aggSQL's fixed expressions.
const querySQL = `
WITH src AS (
    SELECT series_id, time AS t, value AS min, value AS max, value AS sum, 1::bigint AS count, value AS last, time AS last_time
    FROM metrics.samples
    WHERE series_id = ANY ($1) AND time >= $2 AND time < $3
    UNION ALL
    SELECT series_id, bucket, min, max, sum, count, last, last_time
    FROM metrics.rollup_1m
    WHERE series_id = ANY ($1) AND bucket >= $3 AND bucket < $4
    UNION ALL
    SELECT series_id, bucket, min, max, sum, count, last, last_time
    FROM metrics.rollup_1h
    WHERE series_id = ANY ($1) AND bucket >= $4 AND bucket < $5
    UNION ALL
    SELECT series_id, bucket, min, max, sum, count, last, last_time
    FROM metrics.rollup_1m
    WHERE series_id = ANY ($1) AND bucket >= $5 AND bucket < $6
    UNION ALL
    SELECT series_id, time, value, value, value, 1::bigint, value, time
    FROM metrics.samples
    WHERE series_id = ANY ($1) AND time >= $6 AND time < $7
)
SELECT series_id, date_bin($8::interval, t, $2::timestamptz) AS step, %s
FROM src
GROUP BY 1, 2
ORDER BY 1, 2`

// ranges are the boundaries of querySQL's stretches:
// start <= minuteFrom <= hourFrom <= hourTo <= minuteTo <= end.
type ranges struct {
	start, minuteFrom, hourFrom, hourTo, minuteTo, end time.Time
}

// planRanges splits [start, end) for a query at resolution res, given that
// rollups are complete before doneUntil (nil: no rollups yet). Rollup buckets
// are used only where they lie wholly inside [start, end) and are complete.
func planRanges(start, end time.Time, res time.Duration, doneUntil *time.Time) ranges {
	clamp := func(t, lo, hi time.Time) time.Time {
		if t.Before(lo) {
			return lo
		}
		if t.After(hi) {
			return hi
		}
		return t
	}
	ceilTo := func(t time.Time, d time.Duration) time.Time {
		f := floorTo(t, d)
		if f.Before(t) {
			return f.Add(d)
		}
		return f
	}
	r := ranges{start: start, end: end}
	// The newest time any rollup may cover.
	usable := start
	if doneUntil != nil && res != Raw {
		usable = clamp(*doneUntil, start, end)
	}
	r.minuteFrom = clamp(ceilTo(start, Minute), start, end)
	r.minuteTo = clamp(floorTo(usable, Minute), r.minuteFrom, end)
	if res == Hour {
		r.hourFrom = clamp(ceilTo(start, Hour), r.minuteFrom, r.minuteTo)
		r.hourTo = clamp(floorTo(usable, Hour), r.hourFrom, r.minuteTo)
	} else {
		r.hourFrom, r.hourTo = r.minuteFrom, r.minuteFrom
	}
	return r
}

// resolution is the coarsest resolution r reads.
func (r ranges) resolution() time.Duration {
	switch {
	case r.hourTo.After(r.hourFrom):
		return Hour
	case r.minuteTo.After(r.minuteFrom):
		return Minute
	default:
		return Raw
	}
}

// aggSQL computes each aggregate from rollup columns; only the requested one
// is computed, as last's ordered array_agg costs several times the others.
var aggSQL = map[Agg]string{
	Avg:  "sum(sum) / sum(count)",
	Min:  "min(min)",
	Max:  "max(max)",
	Sum:  "sum(sum)",
	Last: "(array_agg(last ORDER BY last_time DESC))[1]",
}

// Query returns the series matching q with their points, aggregated per step
// in SQL from the coarsest resolution whose bucket fits in the step. The
// newest data, not yet rolled up, is read from the finer resolutions. It
// returns Invalid errors naming the field (before touching the database),
// NotFound when no series matches, and ResourceExhausted when more than
// MaxSeries match.
func (s *Store) Query(ctx context.Context, q Query) ([]Series, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, matchSeriesSQL, q.Name, labelsJSON(q.Labels), MaxSeries+1)
	if err != nil {
		return nil, fmt.Errorf("query %s: match series: %w", q.Name, err)
	}
	type matched struct {
		id     int64
		labels Labels
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (matched, error) {
		var m matched
		var raw []byte
		if err := r.Scan(&m.id, &raw); err != nil {
			return m, err
		}
		return m, json.Unmarshal(raw, &m.labels)
	})
	if err != nil {
		return nil, fmt.Errorf("query %s: match series: %w", q.Name, err)
	}
	if len(found) == 0 {
		return nil, errs.E(errs.NotFound, "SERIES_NOT_FOUND", "no series %s matches labels %s", q.Name, labelsJSON(q.Labels)).
			With("name", q.Name)
	}
	if len(found) > MaxSeries {
		e := errs.E(errs.ResourceExhausted, "TOO_MANY_SERIES", "labels: more than %d series named %s match %s; add labels to narrow the query",
			MaxSeries, q.Name, labelsJSON(q.Labels))
		e.Field = "labels"
		return nil, e
	}

	var doneUntil *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT done_until FROM metrics.rollup_state`).Scan(&doneUntil); err != nil {
		return nil, fmt.Errorf("query %s: read the rollup state: %w", q.Name, err)
	}
	// Report the coarsest resolution actually read: with no rollups yet, an
	// hourly-step query is answered from raw samples.
	plan := planRanges(q.Start.UTC(), q.End.UTC(), resolutionFor(q.Step), doneUntil)
	res := plan.resolution()

	ids := make([]int64, len(found))
	out := make([]Series, len(found))
	byID := make(map[int64]*Series, len(found))
	for i, m := range found {
		ids[i] = m.id
		out[i] = Series{Name: q.Name, Labels: m.labels, Resolution: res}
		byID[m.id] = &out[i]
	}
	sql := fmt.Sprintf(querySQL, aggSQL[q.Agg])
	rows, err = s.pool.Query(ctx, sql, ids, plan.start, plan.minuteFrom, plan.hourFrom, plan.hourTo, plan.minuteTo, plan.end, q.Step)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p Point
		if err := rows.Scan(&id, &p.Time, &p.Value); err != nil {
			return nil, fmt.Errorf("query %s: %w", q.Name, err)
		}
		p.Time = p.Time.UTC()
		ser := byID[id]
		ser.Points = append(ser.Points, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query %s: %w", q.Name, err)
	}
	return out, nil
}

// Latest returns the newest raw sample of the series with exactly these name
// and labels. It returns Invalid for a bad name or labels and NotFound when
// the series does not exist or has no raw samples left.
func (s *Store) Latest(ctx context.Context, name string, labels Labels) (Sample, error) {
	if err := validateName("name", name); err != nil {
		return Sample{}, err
	}
	if err := validateLabels("labels", labels); err != nil {
		return Sample{}, err
	}
	smp := Sample{Name: name, Labels: labels}
	err := s.pool.QueryRow(ctx, `
		SELECT p.time, p.value
		FROM metrics.series s
		JOIN LATERAL (
		    SELECT time, value FROM metrics.samples
		    WHERE series_id = s.id ORDER BY time DESC LIMIT 1
		) p ON true
		WHERE s.name = $1 AND s.labels = $2::jsonb`, name, labelsJSON(labels)).Scan(&smp.Time, &smp.Value)
	if errors.Is(err, pgx.ErrNoRows) {
		return Sample{}, errs.E(errs.NotFound, "SERIES_NOT_FOUND", "no samples for series %s%s", name, labelsJSON(labels)).
			With("name", name)
	}
	if err != nil {
		return Sample{}, fmt.Errorf("latest %s: %w", name, err)
	}
	return smp, nil
}
