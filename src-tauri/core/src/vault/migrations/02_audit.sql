
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    seq        INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
    time_ms    INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    key_id     TEXT,
    key_label  TEXT,
    details    TEXT NOT NULL,
    prev_mac   BLOB NOT NULL,
    mac        BLOB NOT NULL
);
CREATE INDEX audit_log_key_id ON audit_log (key_id);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE TABLE audit_pending (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms    INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    details    TEXT NOT NULL
);
