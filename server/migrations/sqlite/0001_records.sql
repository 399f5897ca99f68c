-- Players, finished rounds (matches) and their standings. SQLite.
-- Kept in step with ../postgres/0001_records.sql: the same tables,
-- columns and indexes; only the identity column's syntax differs.

CREATE TABLE players (
    id            TEXT    PRIMARY KEY,          -- 16 hex digits
    secret_hash   TEXT    NOT NULL,             -- SHA-256 of the secret, hex
    name          TEXT    NOT NULL,             -- as of the latest round
    rounds        BIGINT  NOT NULL,
    kills         BIGINT  NOT NULL,
    deaths        BIGINT  NOT NULL,
    wins          BIGINT  NOT NULL,
    best_score    BIGINT  NOT NULL,
    first_seen_ms BIGINT  NOT NULL,             -- unix ms
    last_seen_ms  BIGINT  NOT NULL
);
CREATE INDEX players_ranked ON players (kills DESC, wins DESC, deaths ASC, id ASC);

CREATE TABLE matches (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room       TEXT    NOT NULL,
    round      BIGINT  NOT NULL,
    started_ms BIGINT  NOT NULL,
    ended_ms   BIGINT  NOT NULL,
    ships      BIGINT  NOT NULL,
    winner     TEXT,
    -- A retried batch whose first commit went through writes nothing twice.
    UNIQUE (room, round, started_ms)
);
CREATE INDEX matches_by_room ON matches (room, id);
CREATE INDEX matches_by_end ON matches (ended_ms);

CREATE TABLE standings (
    match_id  BIGINT  NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
    position  BIGINT  NOT NULL,                 -- 0 = best
    rank      BIGINT  NOT NULL,                 -- equal scores share a rank
    player_id TEXT    REFERENCES players (id),  -- NULL: a bot or an unidentified guest
    name      TEXT    NOT NULL,
    bot       BIGINT  NOT NULL,                 -- 0 or 1
    score     BIGINT  NOT NULL,
    kills     BIGINT  NOT NULL,
    deaths    BIGINT  NOT NULL,
    PRIMARY KEY (match_id, position)
);
CREATE INDEX standings_by_player ON standings (player_id, match_id);
