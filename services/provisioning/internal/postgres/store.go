// Package postgres keeps workloads, their port reservations and the
// service's outbox in PostgreSQL (schema "provisioning").
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/platformportal/portal/platform/errs"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/outbox"
	pgplatform "github.com/platformportal/portal/platform/postgres"
	pb "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
	"github.com/platformportal/portal/services/provisioning/internal/provisioning"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema is the service's PostgreSQL schema.
const Schema = "provisioning"

// Migrations returns the embedded migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Event subjects.
var (
	SubjectInstanceChanged = events.Subject("provisioning", "instance_changed")
	SubjectWorkloadFailed  = events.Subject("provisioning", "workload_failed")
)

const source = "portal/provisioning"

// Store is the PostgreSQL provisioning.Store.
type Store struct {
	pool   *pgxpool.Pool
	outbox *outbox.Outbox
}

var _ provisioning.Store = (*Store)(nil)

// New returns a Store; its outbox table is provisioning.outbox.
func New(pool *pgxpool.Pool) (*Store, *outbox.Outbox, error) {
	ob, err := outbox.New(Schema + ".outbox")
	if err != nil {
		return nil, nil, err
	}
	return &Store{pool: pool, outbox: ob}, ob, nil
}

var driverNames = map[pb.Driver]string{pb.Driver_DRIVER_PROCESS: "process", pb.Driver_DRIVER_DOCKER: "docker", pb.Driver_DRIVER_KUBERNETES: "kubernetes"}

// Provision implements provisioning.Store. Port allocation is serialised by
// an advisory lock, so concurrent provisions never pick the same port.
func (s *Store) Provision(ctx context.Context, spec *pb.WorkloadSpec, lo, hi int, free func(int) bool) (*provisioning.Record, error) {
	var rec *provisioning.Record
	err := pgplatform.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('provisioning.ports'))`); err != nil {
			return fmt.Errorf("lock ports: %w", err)
		}
		specJSON, err := protojson.Marshal(spec)
		if err != nil {
			return fmt.Errorf("encode spec: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO provisioning.workloads (agent_id, spec, driver, desired_state)
			VALUES ($1, $2, $3, 'PROVISIONED')
			ON CONFLICT (agent_id) DO UPDATE SET spec = EXCLUDED.spec, driver = EXCLUDED.driver,
				desired_state = 'PROVISIONED', last_failure = NULL, update_time = now()`,
			spec.GetAgentId(), specJSON, driverNames[spec.GetDriver()]); err != nil {
			return fmt.Errorf("record workload: %w", err)
		}
		// Keep the ports the workload has while they are still free (instances
		// keep their addresses across a re-provision); a port someone else
		// took since is released, which is how provisioning again fixes a
		// PORT_IN_USE failure. Nothing of this workload runs while it is
		// provisioned, so its own instances hold none of them.
		rows, err := tx.Query(ctx, `SELECT port FROM provisioning.ports WHERE agent_id = $1 ORDER BY instance`, spec.GetAgentId())
		if err != nil {
			return fmt.Errorf("read ports: %w", err)
		}
		had, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("read ports: %w", err)
		}
		var ports []int32
		for i, p := range had {
			if i >= int(spec.GetReplicas()) || !free(int(p)) || len(ports) < i {
				continue
			}
			ports = append(ports, p)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM provisioning.ports WHERE agent_id = $1 AND instance >= $2`,
			spec.GetAgentId(), len(ports)); err != nil {
			return fmt.Errorf("release ports: %w", err)
		}
		rows, err = tx.Query(ctx, `SELECT port FROM provisioning.ports WHERE port BETWEEN $1 AND $2`, lo, hi)
		if err != nil {
			return fmt.Errorf("read reserved ports: %w", err)
		}
		taken, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("read reserved ports: %w", err)
		}
		used := map[int]bool{}
		for _, p := range taken {
			used[int(p)] = true
		}
		next := lo
		for i := len(ports); i < int(spec.GetReplicas()); i++ {
			for next <= hi && (used[next] || !free(next)) {
				next++
			}
			if next > hi {
				return errs.E(errs.ResourceExhausted, "NO_FREE_PORT", "no free port left in %d-%d for instance %d", lo, hi, i).
					With("class", "dependency")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO provisioning.ports (port, agent_id, instance) VALUES ($1, $2, $3)`,
				next, spec.GetAgentId(), i); err != nil {
				return fmt.Errorf("reserve port %d: %w", next, err)
			}
			ports = append(ports, int32(next))
			used[next] = true
		}
		spec.Ports = ports
		specJSON, err = protojson.Marshal(spec)
		if err != nil {
			return fmt.Errorf("encode spec: %w", err)
		}
		var updated time.Time
		if err := tx.QueryRow(ctx, `UPDATE provisioning.workloads SET spec = $2 WHERE agent_id = $1 RETURNING update_time`,
			spec.GetAgentId(), specJSON).Scan(&updated); err != nil {
			return fmt.Errorf("record ports: %w", err)
		}
		rec = &provisioning.Record{Spec: spec, Desired: provisioning.Provisioned, UpdateTime: updated.UTC()}
		return nil
	})
	return rec, err
}

const recordColumns = `spec, desired_state, last_failure, update_time`

func scanRecord(row pgx.Row) (*provisioning.Record, error) {
	var specJSON, failJSON []byte
	rec := &provisioning.Record{Spec: &pb.WorkloadSpec{}}
	if err := row.Scan(&specJSON, &rec.Desired, &failJSON, &rec.UpdateTime); err != nil {
		return nil, err
	}
	if err := protojson.Unmarshal(specJSON, rec.Spec); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	if failJSON != nil {
		rec.LastFailure = &pb.Failure{}
		if err := protojson.Unmarshal(failJSON, rec.LastFailure); err != nil {
			return nil, fmt.Errorf("decode failure: %w", err)
		}
	}
	rec.UpdateTime = rec.UpdateTime.UTC()
	return rec, nil
}

// Get implements provisioning.Store.
func (s *Store) Get(ctx context.Context, agentID string) (*provisioning.Record, error) {
	rec, err := scanRecord(s.pool.QueryRow(ctx, `SELECT `+recordColumns+` FROM provisioning.workloads WHERE agent_id = $1`, agentID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "WORKLOAD_NOT_FOUND", "agent %s has no workload: provision it first", agentID).
			With("agent_id", agentID)
	}
	if err != nil {
		return nil, fmt.Errorf("read workload: %w", err)
	}
	return rec, nil
}

// SetDesired implements provisioning.Store.
func (s *Store) SetDesired(ctx context.Context, agentID, desired string) error {
	_, err := s.pool.Exec(ctx, `UPDATE provisioning.workloads SET desired_state = $2, last_failure = NULL, update_time = now()
		WHERE agent_id = $1`, agentID, desired)
	if err != nil {
		return fmt.Errorf("record desired state: %w", err)
	}
	return nil
}

// RecordFailure implements provisioning.Store.
func (s *Store) RecordFailure(ctx context.Context, agentID string, f *pb.Failure, ev *pb.WorkloadFailed) error {
	fj, err := protojson.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode failure: %w", err)
	}
	return pgplatform.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE provisioning.workloads SET last_failure = $2, update_time = now() WHERE agent_id = $1`,
			agentID, fj); err != nil {
			return fmt.Errorf("record failure: %w", err)
		}
		_, err := s.outbox.Enqueue(ctx, tx, outbox.Event{Subject: SubjectWorkloadFailed, Source: source,
			Resource: "agents/" + agentID, Time: time.Now(), Payload: ev})
		return err
	})
}

// Delete implements provisioning.Store.
func (s *Store) Delete(ctx context.Context, agentID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM provisioning.workloads WHERE agent_id = $1`, agentID); err != nil {
		return fmt.Errorf("delete workload: %w", err)
	}
	return nil
}

// ListDesired implements provisioning.Store.
func (s *Store) ListDesired(ctx context.Context, states ...string) ([]*provisioning.Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM provisioning.workloads WHERE desired_state = ANY($1)
		ORDER BY create_time`, states)
	if err != nil {
		return nil, fmt.Errorf("list workloads: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*provisioning.Record, error) { return scanRecord(r) })
}

// PublishInstance implements provisioning.Store.
func (s *Store) PublishInstance(ctx context.Context, ev *pb.InstanceChanged) error {
	return pgplatform.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := s.outbox.Enqueue(ctx, tx, outbox.Event{Subject: SubjectInstanceChanged, Source: source,
			Resource: "agents/" + ev.GetAgentId(), Time: time.Now(), Payload: ev})
		return err
	})
}
