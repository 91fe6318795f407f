-- Review by the prefecture (確認, 体制確認, 差戻し, 疑義照会メモ).
-- The newest cycle of an institution's fiscal year is the one its status is read from.
ALTER TABLE reports ADD COLUMN is_latest BOOLEAN NOT NULL DEFAULT 1;
UPDATE reports SET is_latest = 0 WHERE EXISTS (
    SELECT 1 FROM reports newer
    WHERE newer.institution_id = reports.institution_id
      AND newer.fiscal_year = reports.fiscal_year
      AND newer.cycle > reports.cycle
);
ALTER TABLE reports ADD COLUMN confirmed_by INTEGER REFERENCES users (id);
-- 体制確認: recorded for reports with any 2号 function 有り.
ALTER TABLE reports ADD COLUMN structure_confirmed_at TIMESTAMP;
ALTER TABLE reports ADD COLUMN structure_confirmed_by INTEGER REFERENCES users (id);
ALTER TABLE reports ADD COLUMN returned_at TIMESTAMP;
ALTER TABLE reports ADD COLUMN returned_by INTEGER REFERENCES users (id);
CREATE INDEX reports_latest ON reports (fiscal_year, is_latest, institution_id);
CREATE INDEX reports_submitted_at ON reports (fiscal_year, submitted_at);
CREATE INDEX report_versions_submitted_at ON report_versions (submitted_at);

-- 疑義照会メモ: internal memos (officers only) and messages shared with the institution.
CREATE TABLE report_memos (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports (id),
    author_id INTEGER REFERENCES users (id),
    author_name TEXT NOT NULL,
    from_institution BOOLEAN NOT NULL,
    internal BOOLEAN NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX report_memos_report ON report_memos (report_id, id);
CREATE INDEX report_memos_created ON report_memos (created_at);

-- The newest memo each user has seen on each report (unread markers).
CREATE TABLE memo_reads (
    user_id INTEGER NOT NULL REFERENCES users (id),
    report_id INTEGER NOT NULL REFERENCES reports (id),
    last_seen_memo INTEGER NOT NULL,
    PRIMARY KEY (user_id, report_id)
);

-- When each officer last opened 「新着」.
ALTER TABLE users ADD COLUMN news_seen_at TIMESTAMP;

-- A bulk confirmation between its preview and its commit: the reports and the revision
-- each had when the officer saw the count.
CREATE TABLE bulk_confirmations (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    fiscal_year INTEGER NOT NULL,
    reports TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
