
CREATE TABLE mfa (
    id                    INTEGER PRIMARY KEY CHECK (id = 1),
    active_seed           BLOB,
    active_since          INTEGER,
    active_last_step      INTEGER,
    pending_seed          BLOB,
    pending_since         INTEGER,
    pending_last_step     INTEGER,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    locked_until          INTEGER,
    lockout_count         INTEGER NOT NULL DEFAULT 0,
    mac                   BLOB NOT NULL
);
CREATE TABLE mfa_recovery_codes (
    stage    TEXT NOT NULL CHECK (stage IN ('active', 'pending')),
    slot     INTEGER NOT NULL CHECK (slot >= 0),
    hash     BLOB NOT NULL,
    used_at  INTEGER,
    PRIMARY KEY (stage, slot)
);
