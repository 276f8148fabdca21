package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/platformportal/portal/platform/actor"
	"github.com/platformportal/portal/platform/outbox"
)

// sweepEvery is how often expired grants are put on the record and old
// sessions removed. A grant stops working at its expiry by the clock, at
// every request; the sweep only tells the audit log.
const sweepEvery = 5 * time.Second

// sessionRetention is how long an ended or expired session is kept.
const sessionRetention = 30 * 24 * time.Hour

// Run publishes the service's events and sweeps until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	errc := make(chan error, 1)
	go func() { errc <- s.RunRelay(ctx) }()
	for {
		select {
		case err := <-errc:
			return err
		case <-t.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("identity sweep failed; retrying", "error", err)
			}
		}
	}
}

// Sweep records the expiry of the grants that ran out (a GrantChanged event
// each, by the system) and deletes sessions ended long ago.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE identity.grants SET expiry_recorded_at = $1
			WHERE state = 'ACTIVE' AND expiry_recorded_at IS NULL AND expires_at <= $1 RETURNING id`, now)
		if err != nil {
			return fmt.Errorf("mark expired grants: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[[16]byte])
		if err != nil {
			return fmt.Errorf("mark expired grants: %w", err)
		}
		evs := make([]outbox.Event, 0, len(ids))
		for _, id := range ids {
			g, err := scanGrant(tx.QueryRow(ctx, `SELECT `+grantColumns+grantFrom+` WHERE g.id = $1`, id))
			if err != nil {
				return fmt.Errorf("read expired grant: %w", err)
			}
			evs = append(evs, grantChanged(grantToProto(g, now), now))
		}
		if len(evs) == 0 {
			return nil
		}
		return s.enqueue(actor.With(ctx, actor.System), tx, evs...)
	})
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM identity.sessions WHERE ended_at < $1 OR absolute_expires_at < $1`,
		now.Add(-sessionRetention)); err != nil {
		return fmt.Errorf("delete old sessions: %w", err)
	}
	return nil
}
