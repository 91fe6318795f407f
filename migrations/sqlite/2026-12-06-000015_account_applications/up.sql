-- Applications for an institution account (新規ユーザ登録申請, issue 17). Whatever was
-- typed is kept as typed; the match with the master and what officers must look at
-- (no match, not a target, an account or another application already) are flags.
CREATE TABLE account_applications (
    id INTEGER PRIMARY KEY,
    code_typed TEXT NOT NULL,
    institution_id INTEGER REFERENCES institutions(id),
    name_typed TEXT NOT NULL,
    person TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    -- 'pending', 'approved', 'rejected'
    state TEXT NOT NULL,
    -- JSON array of flag codes
    flags TEXT NOT NULL,
    reason TEXT,
    ip TEXT,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by INTEGER REFERENCES users(id),
    user_id INTEGER REFERENCES users(id)
);
CREATE INDEX account_applications_by_state ON account_applications (state, id);
CREATE INDEX account_applications_by_institution ON account_applications (institution_id);
CREATE INDEX account_applications_by_ip ON account_applications (ip, created_at);
