-- 0002: contact ids are never reused. An identity column never hands out a value twice, so
-- PostgreSQL needs nothing here; the version stays in step with SQLite's.
SELECT 1;
