-- 0005: housekeeping finds what it deletes through an index, a few rows at a time, instead of
-- reading whole tables: finished jobs by age, counters and single-use keys by expiry.
CREATE INDEX outbox_finished ON outbox (state, updated_at);
CREATE INDEX rate_hits_at ON rate_hits (at);
CREATE INDEX rate_buckets_bucket ON rate_buckets (bucket);
CREATE INDEX once_keys_expires ON once_keys (expires_at);
