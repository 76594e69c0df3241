-- 0004: imports. One row per run of an import (`optin import FILE`, a recurring [imports.NAME]
-- on schedule or by hand) with its counts and error; a scheduled run claims its period with the
-- UNIQUE (name, period) key, so replicas sharing the database run it once. `import_schedules`
-- remembers which recurring imports the owner paused.
CREATE TABLE import_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    period        INTEGER,
    started_by    TEXT NOT NULL,
    source        TEXT NOT NULL,
    started_at    REAL NOT NULL,
    finished_at   REAL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    file_sha256   TEXT,
    rows_read     INTEGER NOT NULL DEFAULT 0,
    added         INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    not_imported  INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    notes         TEXT,
    UNIQUE (name, period)
);
CREATE INDEX import_runs_name ON import_runs (name, started_at);

CREATE TABLE import_schedules (
    name       TEXT PRIMARY KEY,
    paused_at  REAL,
    updated_at REAL NOT NULL
);
