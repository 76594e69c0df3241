-- 0006: sending politely. After a recipient domain defers our mail (a 4xx such as Outlook's or
-- Yahoo's "421 4.7.0"), sends to that domain are spaced out for a while; every worker shares
-- this row, so the pause holds across instances and restarts.
CREATE TABLE IF NOT EXISTS domain_pacing (
    domain      TEXT PRIMARY KEY,
    strikes     INTEGER NOT NULL,
    not_before  REAL NOT NULL,
    last_reply  TEXT NOT NULL,
    updated_at  REAL NOT NULL
);
