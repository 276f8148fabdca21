-- +goose Up
CREATE TABLE provisioning.workloads (
    agent_id      uuid PRIMARY KEY,
    -- The WorkloadSpec as protobuf JSON: read back whole, never queried into.
    spec          jsonb NOT NULL,
    driver        text NOT NULL CHECK (driver IN ('process', 'docker', 'kubernetes')),
    desired_state text NOT NULL CHECK (desired_state IN ('PROVISIONED', 'DEPLOYED', 'RUNNING', 'SUSPENDED', 'STOPPED')),
    last_failure  jsonb,
    create_time   timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

-- Host ports reserved for instances, so two workloads never get the same one.
CREATE TABLE provisioning.ports (
    port     integer PRIMARY KEY CHECK (port BETWEEN 1 AND 65535),
    agent_id uuid NOT NULL REFERENCES provisioning.workloads (agent_id) ON DELETE CASCADE,
    instance integer NOT NULL,
    UNIQUE (agent_id, instance)
);

CREATE TABLE provisioning.outbox (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         uuid NOT NULL UNIQUE,
    subject    text NOT NULL,
    headers    jsonb NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE provisioning.outbox;
DROP TABLE provisioning.ports;
DROP TABLE provisioning.workloads;
