-- +goose Up
ALTER TABLE agents.agents
    ADD COLUMN runtime jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN error jsonb,
    ADD COLUMN pending_operation text NOT NULL DEFAULT '',
    ADD COLUMN previous_config jsonb;

CREATE TABLE agents.operations (
    id           uuid PRIMARY KEY,
    agent_id     uuid NOT NULL REFERENCES agents.agents (id) ON DELETE CASCADE,
    action       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    actor        text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    from_state   text NOT NULL,
    target_state text NOT NULL,
    error        jsonb,
    create_time  timestamptz NOT NULL,
    done_time    timestamptz
);

CREATE INDEX operations_running ON agents.operations (create_time) WHERE status = 'RUNNING';
CREATE INDEX operations_agent ON agents.operations (agent_id, create_time);

-- +goose Down
DROP TABLE agents.operations;
ALTER TABLE agents.agents DROP COLUMN runtime, DROP COLUMN error, DROP COLUMN pending_operation, DROP COLUMN previous_config;
