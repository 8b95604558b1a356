CREATE TABLE incidents (
        id                BLOB PRIMARY KEY,
        situation         TEXT NOT NULL,
        playbook_version  INTEGER NOT NULL,
        state             TEXT NOT NULL,
        opened_at         INTEGER NOT NULL,
        closed_at         INTEGER,
        exchanges         TEXT NOT NULL,
        keys              TEXT NOT NULL
    );
    CREATE TABLE incident_steps (
        incident_id  BLOB NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        step_id      TEXT NOT NULL,
        state        TEXT NOT NULL,
        updated_at   INTEGER,
        note         TEXT,
        reason       TEXT,
        error        TEXT,
        results      TEXT NOT NULL DEFAULT '[]',
        instructions TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (incident_id, step_id)
    );
    CREATE TABLE incident_events (
        incident_id  BLOB NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        seq          INTEGER NOT NULL,
        at           INTEGER NOT NULL,
        event        TEXT NOT NULL,
        step_id      TEXT,
        text         TEXT NOT NULL,
        attachment   TEXT,
        PRIMARY KEY (incident_id, seq)
    );
    CREATE TABLE incident_snapshots (
        incident_id  BLOB NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
        key_id       TEXT NOT NULL,
        taken_at     INTEGER NOT NULL,
        snapshot     TEXT NOT NULL,
        PRIMARY KEY (incident_id, key_id)
    );
