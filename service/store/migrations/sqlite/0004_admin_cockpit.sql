-- 0004: the owner's cockpit. Every view, export and erasure of a person's data in the admin is
-- recorded (who, what, when); the address is kept only as its keyed hash, so the record
-- outlives an erasure without keeping the address. The reports read time ranges of up to a
-- million contacts: each time column gets an index that answers its per-day, per-form counts
-- from the index alone.
CREATE TABLE data_access (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           REAL NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    ip           TEXT
);
CREATE INDEX data_access_address ON data_access (address_hash, at);
CREATE INDEX contacts_created_form ON contacts (created_at, form_id, confirmed_at);
CREATE INDEX contacts_confirmed_form ON contacts (confirmed_at, form_id, created_at);
CREATE INDEX contacts_unsubscribed_form ON contacts (unsubscribed_at, form_id);
