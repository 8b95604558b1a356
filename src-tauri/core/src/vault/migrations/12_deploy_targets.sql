CREATE TABLE deploy_targets (
        id           BLOB PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        ssh_user     TEXT NOT NULL,
        host         TEXT NOT NULL,
        port         INTEGER NOT NULL,
        remote_path  TEXT NOT NULL,
        recipient    TEXT NOT NULL,
        host_key     TEXT,
        created_at   INTEGER NOT NULL,
        mac          BLOB NOT NULL
    );
    CREATE TABLE deploy_grants (
        target_id    BLOB NOT NULL REFERENCES deploy_targets(id) ON DELETE CASCADE,
        key_id       BLOB NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
        granted_at   INTEGER NOT NULL,
        deployed_at  INTEGER,
        mac          BLOB NOT NULL,
        PRIMARY KEY (target_id, key_id)
    );
