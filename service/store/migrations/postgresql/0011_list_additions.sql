-- 0011: a confirmed contact who signs up again and ticks lists they are not on yet is sent a
-- confirmation for those lists alone; `adds_lists` (a JSON array of list names) marks such a
-- confirmation and says what confirming it adds. NULL for a first signup's confirmation.
ALTER TABLE confirmations ADD COLUMN adds_lists TEXT;
