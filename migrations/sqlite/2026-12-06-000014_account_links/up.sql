-- One-time links (issue 17): setting a password for a new account, or resetting a
-- forgotten one. The token is never stored, only its hash. A link mailed through the
-- outbox is derived from its outbox row with a key (so a resend after a crash carries
-- the same link); a link printed by `kakari user invite` is random.
CREATE TABLE account_links (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    -- 'setup' or 'reset'
    purpose TEXT NOT NULL,
    outbox_id INTEGER REFERENCES mail_outbox(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    voided_at TIMESTAMP
);
CREATE INDEX account_links_by_user ON account_links (user_id, id);
