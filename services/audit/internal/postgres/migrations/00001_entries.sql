-- +goose Up
-- The audit log: one row per event, in the order the consumer recorded them,
-- each row's hash covering the previous row's hash (see internal/audit.Hash).
CREATE TABLE audit.entries (
    seq         bigint PRIMARY KEY CHECK (seq > 0),
    event_id    uuid NOT NULL UNIQUE,
    stream_seq  bigint NOT NULL,
    time        timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    resource    text NOT NULL,
    outcome     text NOT NULL,
    source      text NOT NULL,
    summary     text NOT NULL,
    -- json, not jsonb: the text is kept byte for byte, as it was hashed.
    details     json NOT NULL,
    prev_hash   bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    -- Words for the free-text search, both as written ("alice@example.com")
    -- and split at punctuation ("agents", "AgentStateChanged").
    search      tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', actor || ' ' || action || ' ' || resource || ' ' || summary || ' ' || details::text)
        || to_tsvector('simple', translate(actor || ' ' || action || ' ' || resource || ' ' || details::text,
                                           './:_-"{}[],=@', '              '))
    ) STORED
);

CREATE INDEX entries_actor ON audit.entries (actor, seq);
CREATE INDEX entries_action ON audit.entries (action, seq);
CREATE INDEX entries_resource ON audit.entries (resource text_pattern_ops);
CREATE INDEX entries_time ON audit.entries (time);
CREATE INDEX entries_search ON audit.entries USING gin (search);

-- Append-only: the database itself refuses changes and removals, whoever asks.
-- +goose StatementBegin
CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.entries is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit entries can never be changed or removed; the hash chain would show it';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER entries_no_update BEFORE UPDATE ON audit.entries
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER entries_no_delete BEFORE DELETE ON audit.entries
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON audit.entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- +goose Down
DROP TABLE audit.entries;
DROP FUNCTION audit.refuse_change();
