-- optin's schema. Times are UNIX seconds (REAL, UTC).
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
