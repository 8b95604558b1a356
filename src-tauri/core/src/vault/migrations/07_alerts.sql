CREATE TABLE alert_config (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        config  BLOB NOT NULL
    );
    CREATE TABLE alert_state (
        key_id   BLOB NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        channel  TEXT NOT NULL,
        kind     TEXT NOT NULL,
        last_at  INTEGER NOT NULL,
        PRIMARY KEY (key_id, channel, kind)
    );
    CREATE TABLE alert_outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at  INTEGER NOT NULL,
        event       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE alert_runs (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        last_at  INTEGER NOT NULL,
        summary  TEXT NOT NULL
    );
