-- 0002: a contact's id appears in links (unsubscribe); an erased contact's id must never be
-- given to someone else. SQLite reuses the largest rowid after a delete unless the key is
-- AUTOINCREMENT, so the table is rebuilt (foreign keys are off while migrations run).
CREATE TABLE contacts_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO contacts_new (id, form_id, email, first_name, last_name, language, status, created_at,
                          updated_at, confirmed_at, unsubscribed_at)
    SELECT id, form_id, email, first_name, last_name, language, status, created_at,
           updated_at, confirmed_at, unsubscribed_at FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts_new RENAME TO contacts;
