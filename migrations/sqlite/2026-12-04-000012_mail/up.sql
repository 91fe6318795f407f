-- Mail (issue 14). Templates edited by a prefecture replace the shipped defaults;
-- campaigns (一括配信) and their recipients, and every message (broadcast or
-- transactional) as one outbox row with its state, attempts and the server's answer.
CREATE TABLE mail_templates (
    prefecture_id INTEGER NOT NULL REFERENCES areas(id),
    template_key TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (prefecture_id, template_key)
);

CREATE TABLE mail_campaigns (
    id INTEGER PRIMARY KEY,
    prefecture_id INTEGER NOT NULL REFERENCES areas(id),
    -- A health-center officer's campaign: its area (the officer's scope). Officers of
    -- the area see it; a prefecture-wide campaign has none.
    area_id INTEGER REFERENCES areas(id),
    template_key TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    audience TEXT NOT NULL,
    -- The search or the ticked institutions the audience came from (JSON), for people.
    audience_detail TEXT NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT,
    recipients INTEGER NOT NULL,
    without_address INTEGER NOT NULL,
    scheduled_at TIMESTAMP,
    -- One campaign per confirmed preview, whatever the clicks and resent forms.
    request_key TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX mail_campaigns_by_prefecture ON mail_campaigns (prefecture_id, id);

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER REFERENCES mail_campaigns(id),
    -- Transactional mails: one row per event (for example "sent_back:<report>:<revision>").
    event_key TEXT UNIQUE,
    prefecture_id INTEGER NOT NULL REFERENCES areas(id),
    template_key TEXT NOT NULL,
    institution_id INTEGER REFERENCES institutions(id),
    user_id INTEGER REFERENCES users(id),
    to_address TEXT NOT NULL,
    -- Values the template needs beyond the institution's (JSON), such as a reason.
    context TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    lease_until TIMESTAMP,
    resent_after_crash BOOLEAN NOT NULL DEFAULT FALSE,
    last_answer TEXT,
    subject TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (campaign_id, institution_id)
);
-- What a worker claims next: the due rows of one campaign (or of no campaign, the
-- transactional mails) in order. Rows in 'sending' carry their lease's end as
-- next_attempt_at, so a row whose worker died comes due again by the same index.
CREATE INDEX mail_outbox_due ON mail_outbox (campaign_id, next_attempt_at, id)
    WHERE state IN ('queued', 'retry', 'sending');
CREATE INDEX mail_outbox_by_campaign ON mail_outbox (campaign_id, state);
CREATE INDEX mail_outbox_by_institution ON mail_outbox (institution_id, id);

-- An institution's address that bounced (不達), with the receiving server's reason, so
-- officers know to phone or send paper. Cleared when the address changes.
ALTER TABLE institutions ADD COLUMN email_bounced_at TIMESTAMP;
ALTER TABLE institutions ADD COLUMN email_bounce_reason TEXT;
