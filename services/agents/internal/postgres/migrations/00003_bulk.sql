-- +goose Up
CREATE TABLE agents.bulk_operations (
    id                 uuid PRIMARY KEY,
    action             text NOT NULL,
    status             text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'PARTIALLY_FAILED', 'ROLLED_BACK')),
    parallelism        integer NOT NULL CHECK (parallelism > 0),
    rollback_threshold double precision NOT NULL,
    succeeded          integer NOT NULL,
    failed             integer NOT NULL,
    skipped            integer NOT NULL,
    rolled_back        boolean NOT NULL,
    -- Per-agent results, rewritten as they come: a bulk operation is bounded
    -- (1,000 agents) and read whole.
    results            jsonb NOT NULL,
    actor              text NOT NULL,
    create_time        timestamptz NOT NULL,
    done_time          timestamptz
);

-- +goose Down
DROP TABLE agents.bulk_operations;
