-- +goose Up
-- The consumer resumes from max(stream_seq): an index keeps that a lookup.
CREATE INDEX entries_stream_seq ON audit.entries (stream_seq);

-- +goose Down
DROP INDEX audit.entries_stream_seq;
