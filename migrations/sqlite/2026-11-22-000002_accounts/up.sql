CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL CHECK (role IN ('sysadmin', 'admin', 'officer', 'area', 'institution')),
    area_id INTEGER REFERENCES areas (id),
    institution_id INTEGER REFERENCES institutions (id),
    active BOOLEAN NOT NULL DEFAULT 1,
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    last_login_at TIMESTAMP,
    -- Bumped on password change and deactivation: every older session cookie dies.
    session_epoch INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_area ON users (area_id);
CREATE INDEX users_institution ON users (institution_id);

-- Who did what to which record, when, from where. Append-only.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    actor_id INTEGER REFERENCES users (id),
    actor_login TEXT,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    prefecture_id INTEGER,
    detail TEXT,
    ip TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);
CREATE INDEX audit_log_actor ON audit_log (actor_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
