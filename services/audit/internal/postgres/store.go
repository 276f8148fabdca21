// Package postgres keeps the audit log in PostgreSQL (schema "audit"): one
// append-only table whose triggers refuse UPDATE, DELETE and TRUNCATE.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/platformportal/portal/platform/errs"
	pgplatform "github.com/platformportal/portal/platform/postgres"
	"github.com/platformportal/portal/services/audit/internal/audit"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema is the service's PostgreSQL schema.
const Schema = "audit"

// Migrations returns the embedded migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// appendLock is the advisory lock id writers take for a transaction, so two
// replicas never both append after the same head.
const appendLock = 0x617564697400 // "audit\0"

// Store is the PostgreSQL audit.Store.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ audit.Store = (*Store)(nil)

// New returns a Store.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, now: time.Now} }

const columns = `seq, event_id, stream_seq, time, recorded_at, actor, action, resource, outcome, source, summary, details, prev_hash, hash`

var copyColumns = strings.Split(strings.ReplaceAll(columns, " ", ""), ",")

// Position is the stream sequence of the last event recorded, 0 for none.
func (s *Store) Position(ctx context.Context) (uint64, error) {
	var pos int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(stream_seq), 0) FROM audit.entries`).Scan(&pos); err != nil {
		return 0, fmt.Errorf("read the log's stream position: %w", err)
	}
	return uint64(pos), nil
}

// Append implements audit.Store.
func (s *Store) Append(ctx context.Context, recs []audit.Record) (written, skipped int, err error) {
	if len(recs) == 0 {
		return 0, 0, nil
	}
	err = pgplatform.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		written, skipped = 0, 0
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(appendLock)); err != nil {
			return fmt.Errorf("lock the log: %w", err)
		}
		var seq int64
		var prev []byte
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit.entries ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			prev = audit.GenesisHash
		case err != nil:
			return fmt.Errorf("read the head of the log: %w", err)
		}
		ids := make([]uuid.UUID, len(recs))
		for i, r := range recs {
			ids[i] = r.EventID
		}
		rows, err := tx.Query(ctx, `SELECT event_id FROM audit.entries WHERE event_id = ANY($1)`, ids)
		if err != nil {
			return fmt.Errorf("look for recorded events: %w", err)
		}
		known, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return fmt.Errorf("look for recorded events: %w", err)
		}
		seen := make(map[uuid.UUID]bool, len(recs))
		for _, id := range known {
			seen[id] = true
		}
		now := s.now()
		batch := make([][]any, 0, len(recs))
		for _, r := range recs {
			if seen[r.EventID] {
				skipped++
				continue
			}
			seen[r.EventID] = true
			seq++
			e := &audit.Entry{Seq: seq, Record: r, RecordedAt: now}
			e.Seal(prev)
			prev = e.Hash
			batch = append(batch, []any{e.Seq, e.EventID, int64(e.StreamSeq), e.Time, e.RecordedAt, e.Actor, e.Action,
				e.Resource, e.Outcome, e.Source, e.Summary, e.Details, e.PrevHash, e.Hash})
		}
		if len(batch) == 0 {
			return nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{Schema, "entries"}, copyColumns, pgx.CopyFromRows(batch)); err != nil {
			return fmt.Errorf("insert entries: %w", err)
		}
		written = len(batch)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return written, skipped, nil
}

type entryRow struct {
	Seq        int64
	EventID    uuid.UUID
	StreamSeq  int64
	Time       time.Time
	RecordedAt time.Time
	Actor      string
	Action     string
	Resource   string
	Outcome    string
	Source     string
	Summary    string
	Details    []byte
	PrevHash   []byte
	Hash       []byte
}

func (r *entryRow) dest() []any {
	return []any{&r.Seq, &r.EventID, &r.StreamSeq, &r.Time, &r.RecordedAt, &r.Actor, &r.Action, &r.Resource,
		&r.Outcome, &r.Source, &r.Summary, &r.Details, &r.PrevHash, &r.Hash}
}

func (r *entryRow) entry() *audit.Entry {
	return &audit.Entry{
		Seq: r.Seq,
		Record: audit.Record{
			EventID: r.EventID, StreamSeq: uint64(r.StreamSeq), Time: r.Time.UTC(), Actor: r.Actor, Action: r.Action,
			Resource: r.Resource, Outcome: r.Outcome, Source: r.Source, Summary: r.Summary, Details: r.Details,
		},
		RecordedAt: r.RecordedAt.UTC(), PrevHash: r.PrevHash, Hash: r.Hash,
	}
}

// Get implements audit.Store.
func (s *Store) Get(ctx context.Context, seq int64) (*audit.Entry, error) {
	var r entryRow
	err := s.pool.QueryRow(ctx, `SELECT `+columns+` FROM audit.entries WHERE seq = $1`, seq).Scan(r.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "ENTRY_NOT_FOUND", "no audit entry %d", seq).With("seq", strconv.FormatInt(seq, 10))
	}
	if err != nil {
		return nil, fmt.Errorf("get audit entry %d: %w", seq, err)
	}
	return r.entry(), nil
}

// Search implements audit.Store.
func (s *Store) Search(ctx context.Context, f audit.Filter, p audit.Page) ([]*audit.Entry, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(f.Actor))
	}
	if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.ResourcePrefix != "" {
		where = append(where, "resource LIKE "+arg(likePrefix(f.ResourcePrefix)))
	}
	if f.Outcome != "" {
		where = append(where, "outcome = "+arg(f.Outcome))
	}
	if !f.Start.IsZero() {
		where = append(where, "time >= "+arg(f.Start))
	}
	if !f.End.IsZero() {
		where = append(where, "time < "+arg(f.End))
	}
	if f.Query != "" {
		where = append(where, "search @@ websearch_to_tsquery('simple', "+arg(f.Query)+")")
	}
	order := "seq"
	if p.Desc {
		order = "seq DESC"
		if p.After > 0 {
			where = append(where, "seq < "+arg(p.After))
		}
	} else if p.After > 0 {
		where = append(where, "seq > "+arg(p.After))
	}
	q := `SELECT ` + columns + ` FROM audit.entries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY ` + order + ` LIMIT ` + arg(p.Limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("search audit entries: %w", err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*audit.Entry, error) {
		var r entryRow
		if err := row.Scan(r.dest()...); err != nil {
			return nil, err
		}
		return r.entry(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("search audit entries: %w", err)
	}
	return es, nil
}

// likePrefix is a LIKE pattern matching strings that start with p.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

// Walk implements audit.Store. One query streams the rows, so a walk sees
// one snapshot of the log and holds one row at a time.
func (s *Store) Walk(ctx context.Context, from, to int64, fn func(*audit.Entry) error) error {
	q := `SELECT ` + columns + ` FROM audit.entries WHERE seq >= $1 AND ($2 = 0 OR seq <= $2) ORDER BY seq`
	rows, err := s.pool.Query(ctx, q, from, to)
	if err != nil {
		return fmt.Errorf("walk audit entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r entryRow
		if err := rows.Scan(r.dest()...); err != nil {
			return fmt.Errorf("walk audit entries: %w", err)
		}
		if err := fn(r.entry()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("walk audit entries: %w", err)
	}
	return nil
}

// Span implements audit.Store.
func (s *Store) Span(ctx context.Context, start, end time.Time) (first, last int64, ok bool, err error) {
	var lo, hi *int64
	err = s.pool.QueryRow(ctx, `SELECT min(seq), max(seq) FROM audit.entries WHERE time >= $1 AND time < $2`, start, end).Scan(&lo, &hi)
	if err != nil {
		return 0, 0, false, fmt.Errorf("find the entries of a time range: %w", err)
	}
	if lo == nil {
		return 0, 0, false, nil
	}
	return *lo, *hi, true, nil
}
