// Package postgres keeps agents, their state history and their outbox in
// PostgreSQL (schema "agents"), changing all three in one transaction.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/platformportal/portal/platform/errs"
	"github.com/platformportal/portal/platform/outbox"
	pgplatform "github.com/platformportal/portal/platform/postgres"
	"github.com/platformportal/portal/services/agents/internal/agents"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema is the service's PostgreSQL schema.
const Schema = "agents"

// OutboxTable is where the service's events wait for the relay.
const OutboxTable = Schema + ".outbox"

// Migrations returns the embedded migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Events turns committed changes into the events published with them.
type Events interface {
	Created(a *agents.Agent) outbox.Event
	Updated(ctx context.Context, a *agents.Agent, fields []string) outbox.Event
	Deleted(ctx context.Context, a *agents.Agent) outbox.Event
	StateChanged(a *agents.Agent, t *agents.Transition) outbox.Event
	OperationChanged(op *agents.Operation) outbox.Event
	BulkProgress(b *agents.BulkOperation, r *agents.BulkResult) outbox.Event
}

// Store is the PostgreSQL agents.Store.
type Store struct {
	pool   *pgxpool.Pool
	outbox *outbox.Outbox
	events Events
}

var _ agents.Store = (*Store)(nil)

// New returns a Store.
func New(pool *pgxpool.Pool, ob *outbox.Outbox, ev Events) *Store {
	return &Store{pool: pool, outbox: ob, events: ev}
}

const agentColumns = `id, name, display_name, description, kind, tier, version, config, labels, owner, creator,
	state, state_reason, revision, create_time, update_time, runtime, error, pending_operation, previous_config`

type agentRow struct {
	ID          uuid.UUID
	Name        string
	DisplayName string
	Description string
	Kind        string
	Tier        string
	Version     string
	Config      map[string]any
	Labels      map[string]string
	Owner       string
	Creator     string
	State       string
	StateReason string
	Revision    int64
	CreateTime  time.Time
	UpdateTime  time.Time
	Runtime     agents.RuntimeSpec
	Error       *agents.Failure
	Pending     string
	Previous    map[string]any
}

// scanAgent scans agentColumns, then any extra columns into extra.
func scanAgent(row pgx.Row, extra ...any) (*agents.Agent, error) {
	var r agentRow
	err := row.Scan(append([]any{&r.ID, &r.Name, &r.DisplayName, &r.Description, &r.Kind, &r.Tier, &r.Version, &r.Config, &r.Labels,
		&r.Owner, &r.Creator, &r.State, &r.StateReason, &r.Revision, &r.CreateTime, &r.UpdateTime,
		&r.Runtime, &r.Error, &r.Pending, &r.Previous}, extra...)...)
	if err != nil {
		return nil, err
	}
	return &agents.Agent{
		ID: r.ID, Name: r.Name, DisplayName: r.DisplayName, Description: r.Description,
		Kind: agents.Kind(r.Kind), Tier: agents.Tier(r.Tier), Version: r.Version, Config: r.Config, Labels: r.Labels,
		Owner: r.Owner, Creator: r.Creator, State: agents.State(r.State), StateReason: r.StateReason,
		Revision: r.Revision, CreateTime: r.CreateTime.UTC(), UpdateTime: r.UpdateTime.UTC(),
		Runtime: r.Runtime, Error: r.Error, PendingOperation: r.Pending, PreviousConfig: r.Previous,
	}, nil
}

// Create inserts a with its first transition and its event, in one batch.
func (s *Store) Create(ctx context.Context, a *agents.Agent, t *agents.Transition) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(`INSERT INTO agents.agents (`+agentColumns+`, history_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, NULL, '', NULL, 1)`,
			a.ID, a.Name, a.DisplayName, a.Description, a.Kind, a.Tier, a.Version, a.Config, a.Labels, a.Owner, a.Creator,
			a.State, a.StateReason, a.Revision, a.CreateTime, a.UpdateTime, a.Runtime)
		queueTransition(&b, t)
		if _, err := s.outbox.Queue(ctx, &b, s.events.Created(a)); err != nil {
			return err
		}
		err := tx.SendBatch(ctx, &b).Close()
		if isUniqueViolation(err) {
			return errs.E(errs.AlreadyExists, "AGENT_NAME_TAKEN", "an agent named %q already exists", a.Name).With("name", a.Name)
		}
		if err != nil {
			return fmt.Errorf("insert agent: %w", err)
		}
		return nil
	})
}

// Get returns one agent.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*agents.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents.agents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("select agent: %w", err)
	}
	return a, nil
}

// orderColumns maps an order field to its SQL expression and how a cursor key
// is cast back to it.
var orderColumns = map[string]struct{ expr, cast string }{
	"create_time": {"create_time", "::timestamptz"},
	"update_time": {"update_time", "::timestamptz"},
	"name":        {"name", "::text"},
}

// List returns a page in the requested order, using keyset paging so a page
// costs the same wherever it is.
func (s *Store) List(ctx context.Context, f agents.Filter, o agents.Order, after *agents.Cursor, limit int) (*agents.Page, error) {
	col, ok := orderColumns[o.Field]
	if !ok {
		return nil, errs.InvalidField("order_by", "unknown order %q", o.Field)
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if len(f.States) > 0 {
		where = append(where, "state = ANY("+arg(f.States)+"::text[])")
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind = ANY("+arg(f.Kinds)+"::text[])")
	}
	if len(f.Labels) > 0 {
		where = append(where, "labels @> "+arg(f.Labels)+"::jsonb")
	}
	if f.Query != "" {
		p := arg("%" + likeEscape(f.Query) + "%")
		where = append(where, "(name ILIKE "+p+" OR display_name ILIKE "+p+" OR description ILIKE "+p+")")
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM agents.agents`+filter, args...).Scan(&total); err != nil {
		return nil, fmt.Errorf("count agents: %w", err)
	}

	cmp, dir := ">", "ASC"
	if o.Desc {
		cmp, dir = "<", "DESC"
	}
	page := where
	if after != nil {
		page = append(page[:len(page):len(page)],
			fmt.Sprintf("(%s, id) %s (%s%s, %s::uuid)", col.expr, cmp, arg(after.Key), col.cast, arg(after.ID)))
	}
	q := `SELECT ` + agentColumns + ` FROM agents.agents`
	if len(page) > 0 {
		q += " WHERE " + strings.Join(page, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT %s", col.expr, dir, dir, arg(limit+1))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*agents.Agent, error) { return scanAgent(r) })
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	p := &agents.Page{Agents: list, Total: total}
	if len(list) > limit {
		p.Agents = list[:limit]
		last := p.Agents[limit-1]
		p.Next = &agents.Cursor{ID: last.ID, Key: cursorKey(o.Field, last)}
	}
	return p, nil
}

func cursorKey(field string, a *agents.Agent) string {
	switch field {
	case "create_time":
		return a.CreateTime.Format(time.RFC3339Nano)
	case "update_time":
		return a.UpdateTime.Format(time.RFC3339Nano)
	default:
		return a.Name
	}
}

// Mutate is the one read-modify-write path: the row is locked (FOR UPDATE) so
// concurrent writers queue instead of overwriting each other, and fn decides
// against the state as it is, not as a client last saw it. What fn changed
// is written in one batch (agent, history, outbox): one round trip.
func (s *Store) Mutate(ctx context.Context, id uuid.UUID, fn func(*agents.Agent) (*agents.Change, error)) (*agents.Agent, *agents.Transition, error) {
	var (
		out *agents.Agent
		tr  *agents.Transition
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var seq int64
		row := tx.QueryRow(ctx, `SELECT `+agentColumns+`, history_seq FROM agents.agents WHERE id = $1 FOR UPDATE`, id)
		a, err := scanAgent(row, &seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return fmt.Errorf("lock agent: %w", err)
		}
		ch, err := fn(a)
		if err != nil {
			return err
		}
		var b pgx.Batch
		var evs []outbox.Event
		switch {
		case ch.Delete:
			b.Queue(`DELETE FROM agents.agents WHERE id = $1`, id)
			evs = append(evs, s.events.Deleted(ctx, a))
		default:
			if t := ch.Transition; t != nil {
				seq++
				t.Sequence = seq
				tr = t
				evs = append(evs, s.events.StateChanged(a, t))
			} else if ch.Operation == nil || len(ch.Fields) > 0 {
				evs = append(evs, s.events.Updated(ctx, a, ch.Fields))
			}
			b.Queue(`UPDATE agents.agents SET display_name = $2, description = $3, tier = $4, version = $5,
					config = $6, labels = $7, owner = $8, state = $9, state_reason = $10, revision = $11, update_time = $12,
					history_seq = $13, runtime = $14, error = $15, pending_operation = $16, previous_config = $17
				WHERE id = $1`,
				id, a.DisplayName, a.Description, a.Tier, a.Version, a.Config, a.Labels, a.Owner, a.State, a.StateReason,
				a.Revision, a.UpdateTime, seq, a.Runtime, a.Error, a.PendingOperation, a.PreviousConfig)
			if tr != nil {
				queueTransition(&b, tr)
			}
			if op := ch.Operation; op != nil {
				queueOperation(&b, op)
				evs = append(evs, s.events.OperationChanged(op))
			}
		}
		if _, err := s.outbox.Queue(ctx, &b, evs...); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("write agent change: %w", err)
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, tr, nil
}

func queueOperation(b *pgx.Batch, op *agents.Operation) {
	var done *time.Time
	if !op.DoneTime.IsZero() {
		done = &op.DoneTime
	}
	b.Queue(`INSERT INTO agents.operations (id, agent_id, action, status, actor, reason, from_state, target_state, error, create_time, done_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, error = EXCLUDED.error, done_time = EXCLUDED.done_time`,
		op.ID, op.AgentID, op.Action, op.Status, op.Actor, op.Reason, op.From, op.Target, op.Error, op.CreateTime, done)
}

const operationColumns = `id, agent_id, action, status, actor, reason, from_state, target_state, error, create_time, done_time`

func scanOperation(row pgx.Row) (*agents.Operation, error) {
	var op agents.Operation
	var id uuid.UUID
	var action, status, from, target string
	var done *time.Time
	if err := row.Scan(&id, &op.AgentID, &action, &status, &op.Actor, &op.Reason, &from, &target, &op.Error, &op.CreateTime, &done); err != nil {
		return nil, err
	}
	op.ID, op.Action, op.Status, op.From, op.Target = id.String(), agents.Action(action), agents.OperationStatus(status), agents.State(from), agents.State(target)
	op.CreateTime = op.CreateTime.UTC()
	if done != nil {
		op.DoneTime = done.UTC()
	}
	return &op, nil
}

// GetOperation implements agents.Store.
func (s *Store) GetOperation(ctx context.Context, id string) (*agents.Operation, error) {
	op, err := scanOperation(s.pool.QueryRow(ctx, `SELECT `+operationColumns+` FROM agents.operations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "OPERATION_NOT_FOUND", "operation %s not found", id).With("id", id)
	}
	if err != nil {
		return nil, fmt.Errorf("select operation: %w", err)
	}
	return op, nil
}

// RunningOperations implements agents.Store.
func (s *Store) RunningOperations(ctx context.Context) ([]*agents.Operation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+operationColumns+` FROM agents.operations WHERE status = 'RUNNING' ORDER BY create_time`)
	if err != nil {
		return nil, fmt.Errorf("select operations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*agents.Operation, error) { return scanOperation(r) })
}

func queueTransition(b *pgx.Batch, t *agents.Transition) {
	md := t.Metadata
	if md == nil {
		md = map[string]string{}
	}
	b.Queue(`INSERT INTO agents.state_history (agent_id, sequence, from_state, to_state, action, actor, reason, metadata, time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.AgentID, t.Sequence, t.From, t.To, t.Action, t.Actor, t.Reason, md, t.Time)
}

// History returns transitions of agent id after sequence after, oldest first.
func (s *Store) History(ctx context.Context, id uuid.UUID, after int64, limit int) ([]*agents.Transition, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM agents.agents WHERE id = $1)`, id).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up agent: %w", err)
	}
	if !exists {
		return nil, notFound(id)
	}
	rows, err := s.pool.Query(ctx, `SELECT agent_id, sequence, from_state, to_state, action, actor, reason, metadata, time
		FROM agents.state_history WHERE agent_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`, id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("select history: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*agents.Transition, error) {
		var t agents.Transition
		var from, to, action string
		err := r.Scan(&t.AgentID, &t.Sequence, &from, &to, &action, &t.Actor, &t.Reason, &t.Metadata, &t.Time)
		t.From, t.To, t.Action, t.Time = agents.State(from), agents.State(to), agents.Action(action), t.Time.UTC()
		return &t, err
	})
}

func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgplatform.InTx(ctx, s.pool, fn)
}

func notFound(id uuid.UUID) error {
	return errs.E(errs.NotFound, "AGENT_NOT_FOUND", "agent %s not found", id).With("id", id.String())
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// SaveBulk implements agents.BulkStore.
func (s *Store) SaveBulk(ctx context.Context, b *agents.BulkOperation, r *agents.BulkResult) error {
	var done *time.Time
	if !b.DoneTime.IsZero() {
		done = &b.DoneTime
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var batch pgx.Batch
		batch.Queue(`INSERT INTO agents.bulk_operations (id, action, status, parallelism, rollback_threshold, succeeded, failed,
				skipped, rolled_back, results, actor, create_time, done_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, succeeded = EXCLUDED.succeeded, failed = EXCLUDED.failed,
				skipped = EXCLUDED.skipped, rolled_back = EXCLUDED.rolled_back, results = EXCLUDED.results, done_time = EXCLUDED.done_time`,
			b.ID, b.Action, b.Status, b.Parallelism, b.RollbackThreshold, b.Succeeded, b.Failed, b.Skipped, b.RolledBack,
			b.Results, b.Actor, b.CreateTime, done)
		if _, err := s.outbox.Queue(ctx, &batch, s.events.BulkProgress(b, r)); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
			return fmt.Errorf("save bulk operation: %w", err)
		}
		return nil
	})
}

const bulkColumns = `id, action, status, parallelism, rollback_threshold, succeeded, failed, skipped,
	rolled_back, results, actor, create_time, done_time`

func scanBulk(row pgx.Row) (*agents.BulkOperation, error) {
	var b agents.BulkOperation
	var bid uuid.UUID
	var action, status string
	var done *time.Time
	if err := row.Scan(&bid, &action, &status, &b.Parallelism, &b.RollbackThreshold, &b.Succeeded, &b.Failed, &b.Skipped,
		&b.RolledBack, &b.Results, &b.Actor, &b.CreateTime, &done); err != nil {
		return nil, err
	}
	b.ID, b.Action, b.Status, b.CreateTime = bid.String(), agents.Action(action), agents.BulkStatus(status), b.CreateTime.UTC()
	if done != nil {
		b.DoneTime = done.UTC()
	}
	return &b, nil
}

// GetBulk implements agents.BulkStore.
func (s *Store) GetBulk(ctx context.Context, id string) (*agents.BulkOperation, error) {
	b, err := scanBulk(s.pool.QueryRow(ctx, `SELECT `+bulkColumns+` FROM agents.bulk_operations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "BULK_OPERATION_NOT_FOUND", "bulk operation %s not found", id).With("id", id)
	}
	if err != nil {
		return nil, fmt.Errorf("select bulk operation: %w", err)
	}
	return b, nil
}

// RunningBulks implements agents.BulkStore.
func (s *Store) RunningBulks(ctx context.Context) ([]*agents.BulkOperation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+bulkColumns+` FROM agents.bulk_operations WHERE status = 'RUNNING' ORDER BY create_time`)
	if err != nil {
		return nil, fmt.Errorf("select bulk operations: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*agents.BulkOperation, error) { return scanBulk(r) })
}
