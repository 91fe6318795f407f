-- An import's preview keeps the uploaded file (to apply it, or to list every row) until
-- it is applied or cancelled; the stored summary holds counts and the first rows only.
-- Stored previews of the earlier format (the parsed file as JSON, whole row lists) cannot
-- be read by this version; they were transient, and their audit entries stay.
DELETE FROM imports;
ALTER TABLE imports ADD COLUMN file_data BLOB;

-- Signed-in sessions, recorded on the server so that signing out, a password change,
-- a deactivation or an administrator can end them. The cookie carries a random token;
-- only its hash is stored.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    end_reason TEXT,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions (user_id, ended_at);

-- Replaced by the sessions table.
ALTER TABLE users DROP COLUMN session_epoch;
