-- 0007: the owner's cockpit. Every view, export and erasure of a person's data in the admin is
-- recorded (who, what, when); the address is kept only as its keyed hash, so the record
-- outlives an erasure without keeping the address. The reports read time ranges of up to a
-- million contacts: each time column gets an index that answers its per-day, per-form counts
-- from the index alone, and each contact keeps how far it went in the funnel (its recipient
-- domain, when the relay took its confirmation email, who came to its links: 3 a person, 2 only
-- scanners, 1 only page views; when the list took it), kept up to date by the store.
CREATE TABLE data_access (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           REAL NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    ip           TEXT
);
CREATE INDEX data_access_address ON data_access (address_hash, at);
ALTER TABLE contacts ADD COLUMN email_domain TEXT;
ALTER TABLE contacts ADD COLUMN emailed_at REAL;
ALTER TABLE contacts ADD COLUMN link_seen INTEGER;
ALTER TABLE contacts ADD COLUMN delivered_at REAL;
UPDATE contacts SET
    email_domain = lower(substr(email, length(rtrim(email, replace(email, '@', ''))) + 1)),
    emailed_at = (SELECT min(e.at) FROM consent_events e
                  WHERE e.contact_id = contacts.id AND e.event = 'confirmation_email_sent'),
    link_seen = (SELECT max(CASE WHEN l.method = 'POST' AND l.outcome IN ('confirmed', 'already_confirmed') THEN 3
                                 WHEN l.method = 'HEAD' OR (l.method = 'POST'
                                      AND l.outcome IN ('missing_nonce', 'bad_nonce', 'too_fast')) THEN 2
                                 ELSE 1 END)
                 FROM confirmations k JOIN link_events l ON l.token_id = k.token_id WHERE k.contact_id = contacts.id),
    delivered_at = (SELECT min(o.updated_at) FROM outbox o
                    WHERE o.contact_id = contacts.id AND o.kind = 'connector_upsert' AND o.state = 'done');
CREATE INDEX contacts_funnel ON contacts
    (created_at, form_id, email_domain, confirmed_at, emailed_at, link_seen, delivered_at);
CREATE INDEX contacts_confirmed_form ON contacts (confirmed_at, form_id, created_at);
CREATE INDEX contacts_unsubscribed_form ON contacts (unsubscribed_at, form_id);
