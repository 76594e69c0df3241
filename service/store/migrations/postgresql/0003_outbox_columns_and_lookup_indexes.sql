-- 0003: the outbox names its contact and connector in columns (they were only in the JSON
-- payload), and every lookup the code does has an index: erasure and export by address,
-- retention by status and age, a contact's confirmations and jobs, a connector's jobs.
ALTER TABLE outbox ADD COLUMN contact_id BIGINT;
ALTER TABLE outbox ADD COLUMN connector TEXT;
UPDATE outbox SET contact_id = (payload::jsonb ->> 'contact_id')::bigint,
                  connector = payload::jsonb ->> 'connector';
CREATE INDEX outbox_contact ON outbox (contact_id);
CREATE INDEX outbox_connector ON outbox (connector, state);
CREATE INDEX confirmations_contact ON confirmations (contact_id);
CREATE INDEX contacts_email ON contacts (email);
CREATE INDEX contacts_status_created ON contacts (status, created_at);
