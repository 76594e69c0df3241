-- 0010: signing out of the admin ends the session everywhere, not only in the browser that asked.
-- The session's id is kept until the session would have expired anyway; every instance refuses a
-- cookie whose id is here (a copied cookie, another tab, another machine).
CREATE TABLE admin_signouts (
    sid         TEXT PRIMARY KEY,
    expires_at  REAL NOT NULL
);
CREATE INDEX admin_signouts_expiry ON admin_signouts (expires_at);
