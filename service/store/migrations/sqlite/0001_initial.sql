-- 0001: the schema of optin 0.1 (before migrations were versioned). Times are UNIX seconds (REAL, UTC).
CREATE TABLE IF NOT EXISTS contacts (
    id              INTEGER PRIMARY KEY,
    form_id         TEXT NOT NULL,
    email           TEXT NOT NULL,
    first_name      TEXT,
    last_name       TEXT,
    language        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    confirmed_at    REAL,
    unsubscribed_at REAL,
    UNIQUE (form_id, email)
);

-- Append-only: the proof of consent for every contact.
CREATE TABLE IF NOT EXISTS consent_events (
    id           INTEGER PRIMARY KEY,
    contact_id   INTEGER NOT NULL REFERENCES contacts (id),
    event        TEXT NOT NULL,
    at           REAL NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    page_url     TEXT,
    consent_text TEXT,
    detail       TEXT
);
CREATE INDEX IF NOT EXISTS consent_events_contact ON consent_events (contact_id);

-- One row per confirmation email: the link carries token_id, never the contact's id.
CREATE TABLE IF NOT EXISTS confirmations (
    token_id   TEXT PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    created_at REAL NOT NULL,
    used_at    REAL
);

CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dead', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_at          REAL NOT NULL,
    locked_until    REAL,
    last_error      TEXT,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, run_at);

CREATE TABLE IF NOT EXISTS kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Things that may happen only once (a solved challenge, a signed request, a submission id),
-- shared by every instance; rows are useless after expires_at and purged.
CREATE TABLE IF NOT EXISTS once_keys (
    key        TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);

-- The health of each list connector, shared by every instance and kept across restarts:
-- `optin connectors status`, /healthz and the owner's alert emails read it.
CREATE TABLE IF NOT EXISTS connector_health (
    connector            TEXT PRIMARY KEY,
    last_success_at      REAL,
    last_success         TEXT,
    last_failure_at      REAL,
    last_failure         TEXT,
    failing_since        REAL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    dead_letters         INTEGER NOT NULL DEFAULT 0,
    paused_until         REAL,
    last_alert_at        REAL,
    updated_at           REAL NOT NULL
);

-- Sliding-window counters for rate limits and per-address email budgets.
CREATE TABLE IF NOT EXISTS rate_hits (
    key TEXT NOT NULL,
    at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_hits_key_at ON rate_hits (key, at);

-- What happened to each emailed link (scanners fetch, people click): evidence, not state.
CREATE TABLE IF NOT EXISTS link_events (
    id         INTEGER PRIMARY KEY,
    token_id   TEXT NOT NULL,
    at         REAL NOT NULL,
    method     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    seconds_since_page REAL
);
CREATE INDEX IF NOT EXISTS link_events_token ON link_events (token_id);

-- An erased address leaves only a keyed hash (HMAC with the server secret) and when.
CREATE TABLE IF NOT EXISTS erasures (
    address_hash TEXT PRIMARY KEY,
    erased_at    REAL NOT NULL
);

-- Request-rate counters in one-minute buckets: counting an hour reads at most 60 rows, however
-- busy a form is.
CREATE TABLE IF NOT EXISTS rate_buckets (
    key    TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (key, bucket)
);
