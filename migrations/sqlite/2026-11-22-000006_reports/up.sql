-- Corrected catalogs an administrator loaded (the shipped ones live in the binary).
-- The newest row of a fiscal year is that year's catalog; rows are never edited.
CREATE TABLE catalogs (
    id INTEGER PRIMARY KEY,
    fiscal_year INTEGER NOT NULL,
    version TEXT NOT NULL,
    body TEXT NOT NULL,
    loaded_by INTEGER REFERENCES users (id),
    loaded_at TIMESTAMP NOT NULL,
    UNIQUE (fiscal_year, version)
);

-- Each prefecture's reporting period per fiscal year.
CREATE TABLE reporting_periods (
    id INTEGER PRIMARY KEY,
    prefecture_id INTEGER NOT NULL REFERENCES areas (id),
    fiscal_year INTEGER NOT NULL,
    opens_on DATE NOT NULL,
    deadline DATE NOT NULL,
    closes_on DATE NOT NULL,
    contact TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (prefecture_id, fiscal_year)
);

-- NDB counts (算定回数) per fiscal year, institution code and item key.
CREATE TABLE ndb_counts (
    fiscal_year INTEGER NOT NULL,
    institution_code TEXT NOT NULL,
    item_key TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (fiscal_year, institution_code, item_key)
) WITHOUT ROWID;

-- One report cycle: the 定期報告 of a fiscal year (cycle 0) or a 変更報告 after a
-- confirmation (cycle 1, 2, ...). The draft lives here; submissions are versions.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions (id),
    fiscal_year INTEGER NOT NULL,
    cycle INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('periodic', 'change')),
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'returned', 'resubmitted', 'confirmed')),
    catalog_version TEXT NOT NULL,
    answers TEXT NOT NULL,
    ndb TEXT NOT NULL,
    sections TEXT NOT NULL,
    checked_code TEXT,
    -- Every save bumps it; a save carrying an older revision is a conflict.
    revision INTEGER NOT NULL DEFAULT 0,
    was_returned BOOLEAN NOT NULL DEFAULT 0,
    return_reason TEXT,
    versions INTEGER NOT NULL DEFAULT 0,
    -- The live determination, for search.
    function1 BOOLEAN NOT NULL DEFAULT 0,
    after_hours BOOLEAN NOT NULL DEFAULT 0,
    admission_discharge BOOLEAN NOT NULL DEFAULT 0,
    home_care BOOLEAN NOT NULL DEFAULT 0,
    care_coordination BOOLEAN NOT NULL DEFAULT 0,
    proxy BOOLEAN NOT NULL DEFAULT 0,
    submitted_at TIMESTAMP,
    confirmed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by INTEGER REFERENCES users (id),
    UNIQUE (institution_id, fiscal_year, cycle)
);
CREATE INDEX reports_fiscal_year_status ON reports (fiscal_year, status);

-- Every submission, immutable.
CREATE TABLE report_versions (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports (id),
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    answers TEXT NOT NULL,
    ndb TEXT NOT NULL,
    determination TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    submitted_by INTEGER REFERENCES users (id),
    submitted_login TEXT NOT NULL,
    proxy BOOLEAN NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    UNIQUE (report_id, number)
);
CREATE TRIGGER report_versions_no_update BEFORE UPDATE ON report_versions
BEGIN
    SELECT RAISE(ABORT, 'report versions are immutable');
END;
