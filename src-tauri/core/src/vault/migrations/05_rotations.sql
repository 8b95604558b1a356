CREATE TABLE rotations (
        id                   BLOB PRIMARY KEY,
        key_id               BLOB NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        state                TEXT NOT NULL,
        revision             INTEGER NOT NULL DEFAULT 0,
        prior_status         TEXT NOT NULL,
        old_fingerprint      BLOB NOT NULL,
        scopes               TEXT NOT NULL,
        new_api_key_id       TEXT,
        new_key_type         TEXT,
        new_secret           BLOB,
        new_passphrase       BLOB,
        previous_api_key_id  TEXT,
        previous_key_type    TEXT,
        previous_secret      BLOB,
        previous_passphrase  BLOB,
        verification         TEXT,
        unknown_override     INTEGER NOT NULL DEFAULT 0,
        services             TEXT NOT NULL DEFAULT '[]',
        manual_steps         TEXT NOT NULL DEFAULT '[]',
        error                TEXT,
        planned_at           INTEGER NOT NULL,
        new_key_entered_at   INTEGER,
        new_key_verified_at  INTEGER,
        promoted_at          INTEGER,
        old_key_revoked_at   INTEGER,
        done_at              INTEGER,
        failed_at            INTEGER,
        cancelled_at         INTEGER
    );
    CREATE UNIQUE INDEX rotations_one_open_per_key ON rotations (key_id)
        WHERE state IN ('planned', 'new_key_entered', 'new_key_verified', 'promoted',
                        'old_key_revoked');
    CREATE INDEX rotations_by_key ON rotations (key_id, planned_at);
