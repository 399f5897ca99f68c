-- One compressed replay per recorded match. PostgreSQL.
-- Kept in step with ../sqlite/0002_replays.sql: only the blob's type differs.

CREATE TABLE replays (
    match_id    BIGINT  PRIMARY KEY REFERENCES matches (id) ON DELETE CASCADE,
    format      BIGINT  NOT NULL,                -- skirmish_shared::replay::REPLAY_FORMAT
    ended_ms    BIGINT  NOT NULL,                -- the match's end (unix ms), for retention
    json_bytes  BIGINT  NOT NULL,                -- the JSON's size before compression
    events      BIGINT  NOT NULL,
    samples     BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    body        BYTEA   NOT NULL                 -- zlib of the replay's JSON
);
-- Retention deletes the oldest first.
CREATE INDEX replays_by_end ON replays (ended_ms);
