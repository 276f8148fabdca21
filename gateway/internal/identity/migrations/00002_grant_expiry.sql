-- +goose Up
-- When a grant's expiry was put on the record (its GrantChanged event): a
-- grant stops working at expires_at by the clock alone; this only says the
-- audit log has been told.
ALTER TABLE identity.grants ADD COLUMN expiry_recorded_at timestamptz;
CREATE INDEX grants_expiry_unrecorded ON identity.grants (expires_at)
    WHERE state = 'ACTIVE' AND expiry_recorded_at IS NULL;
-- Ended sessions are kept a while for investigation, then swept.
CREATE INDEX sessions_ended ON identity.sessions (ended_at) WHERE ended_at IS NOT NULL;

-- +goose Down
DROP INDEX identity.sessions_ended;
DROP INDEX identity.grants_expiry_unrecorded;
ALTER TABLE identity.grants DROP COLUMN expiry_recorded_at;
