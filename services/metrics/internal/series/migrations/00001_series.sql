-- +goose Up
-- Series identity: a metric name plus its labels. jsonb stores an object's keys
-- in one canonical order, so {"a":"1","b":"2"} and {"b":"2","a":"1"} are the
-- same value and the unique index below gives each identity exactly one id.
CREATE TABLE metrics.series (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (name ~ '^[a-zA-Z_:][a-zA-Z0-9_:]*$' AND octet_length(name) <= 200),
    labels     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A btree entry must fit in a third of a page; the Go limits stay well
    -- below this, the check keeps other writers honest.
    CHECK (octet_length(labels::text) <= 2048)
);
CREATE UNIQUE INDEX series_identity ON metrics.series (name, labels);
-- Queries match labels by containment (labels @> '{"job":"api"}').
CREATE INDEX series_labels ON metrics.series USING gin (labels jsonb_path_ops);

-- Raw samples. The primary key is the read path (one series over a range) and
-- makes appends idempotent; BRIN on time is a tiny index that serves the
-- time-only scans of rollup and retention, as rows arrive roughly in time order.
CREATE TABLE metrics.samples (
    series_id bigint NOT NULL REFERENCES metrics.series (id) ON DELETE CASCADE,
    time      timestamptz NOT NULL,
    value     double precision NOT NULL,
    PRIMARY KEY (series_id, time)
);
CREATE INDEX samples_time ON metrics.samples USING brin (time);

-- Rollups keep what every supported aggregate needs: avg is sum/count, and
-- last_time lets a coarser bucket pick the last of its finer buckets' lasts.
CREATE TABLE metrics.rollup_1m (
    series_id bigint NOT NULL REFERENCES metrics.series (id) ON DELETE CASCADE,
    bucket    timestamptz NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    sum       double precision NOT NULL,
    count     bigint NOT NULL CHECK (count > 0),
    last      double precision NOT NULL,
    last_time timestamptz NOT NULL,
    PRIMARY KEY (series_id, bucket)
);
CREATE INDEX rollup_1m_bucket ON metrics.rollup_1m USING brin (bucket);

CREATE TABLE metrics.rollup_1h (LIKE metrics.rollup_1m INCLUDING ALL);
ALTER TABLE metrics.rollup_1h
    ADD FOREIGN KEY (series_id) REFERENCES metrics.series (id) ON DELETE CASCADE;

-- How far the rollups are complete. Minute buckets before done_until are
-- rolled up, hour buckets before done_until's hour; dirty_from, when set, is
-- the earliest late sample appended below done_until, to be rolled up again.
CREATE TABLE metrics.rollup_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    done_until timestamptz,
    dirty_from timestamptz
);
INSERT INTO metrics.rollup_state DEFAULT VALUES;

-- +goose Down
DROP TABLE metrics.rollup_state;
DROP TABLE metrics.rollup_1h;
DROP TABLE metrics.rollup_1m;
DROP TABLE metrics.samples;
DROP TABLE metrics.series;
