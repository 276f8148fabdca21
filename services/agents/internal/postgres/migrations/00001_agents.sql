-- +goose Up
CREATE TABLE agents.agents (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (name ~ '^[a-z]([a-z0-9-]*[a-z0-9])?$' AND length(name) <= 63),
    display_name text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    kind         text NOT NULL CHECK (kind IN ('memory', 'orchestration', 'api', 'data', 'monitoring', 'blank')),
    tier         text NOT NULL CHECK (tier IN ('development', 'standard', 'critical')),
    version      text NOT NULL DEFAULT '',
    config       jsonb NOT NULL DEFAULT '{}',
    labels       jsonb NOT NULL DEFAULT '{}',
    owner        text NOT NULL DEFAULT '',
    creator      text NOT NULL DEFAULT '',
    state        text NOT NULL CHECK (state IN ('DRAFT', 'PROVISIONED', 'DEPLOYED', 'RUNNING', 'STOPPED', 'SUSPENDED', 'ERRORED', 'REVOKED')),
    state_reason text NOT NULL DEFAULT '',
    revision     bigint NOT NULL CHECK (revision > 0),
    -- The last history sequence, so the next transition's is known under the row lock.
    history_seq  bigint NOT NULL DEFAULT 0,
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL
);

-- Keyset paging in each supported order, and the common filters.
CREATE INDEX agents_create_time ON agents.agents (create_time, id);
CREATE INDEX agents_update_time ON agents.agents (update_time, id);
CREATE INDEX agents_state ON agents.agents (state);
CREATE INDEX agents_kind ON agents.agents (kind);
CREATE INDEX agents_labels ON agents.agents USING gin (labels jsonb_path_ops);

CREATE TABLE agents.state_history (
    agent_id  uuid NOT NULL REFERENCES agents.agents (id) ON DELETE CASCADE,
    sequence  bigint NOT NULL CHECK (sequence > 0),
    from_state text NOT NULL DEFAULT '',
    to_state  text NOT NULL,
    action    text NOT NULL,
    actor     text NOT NULL,
    reason    text NOT NULL DEFAULT '',
    metadata  jsonb NOT NULL DEFAULT '{}',
    time      timestamptz NOT NULL,
    PRIMARY KEY (agent_id, sequence)
);

-- The transactional outbox (see platform/outbox).
CREATE TABLE agents.outbox (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         uuid NOT NULL UNIQUE,
    subject    text NOT NULL,
    headers    jsonb NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE agents.outbox;
DROP TABLE agents.state_history;
DROP TABLE agents.agents;
