-- 0008: confirming with a code, custom fields and list choice. A confirmation email now carries a
-- 6-digit code beside its link: only a keyed hash of it is kept (NULL for emails without one), with
-- the wrong tries made so far. A contact keeps its custom and campaign fields, and the lists it
-- chose, as JSON (NULL: none).
ALTER TABLE confirmations ADD COLUMN code_hash TEXT;
ALTER TABLE confirmations ADD COLUMN code_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN fields TEXT;
ALTER TABLE contacts ADD COLUMN lists TEXT;
