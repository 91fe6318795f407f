-- One row per institution and fiscal year that the review screens search: every
-- reporting target, and anyone who filed anyway, with the latest report's status,
-- type, flags and submission time beside the institution's filter columns. Searching
-- it needs no join; the orders offered (code, name, submission time) have an index
-- each, and the filters are tested on narrow rows. The application
-- keeps it (src/db/review_index.rs) whenever an institution or a report changes;
-- `kakari reindex` rebuilds it. A year gets rows once it is listed in review_years.
CREATE TABLE review_years (
    fiscal_year INTEGER PRIMARY KEY
);
CREATE TABLE review_entries (
    institution_id INTEGER NOT NULL,
    fiscal_year INTEGER NOT NULL,
    prefecture_id INTEGER NOT NULL,
    jurisdiction_id INTEGER,
    municipality_id INTEGER,
    code TEXT NOT NULL,
    short_code TEXT NOT NULL,
    search_key TEXT NOT NULL,
    category TEXT NOT NULL,
    is_target BOOLEAN NOT NULL,
    paper_report BOOLEAN NOT NULL,
    has_email BOOLEAN NOT NULL,
    report_id INTEGER,
    -- 'none' when there is no report (未報告).
    status TEXT NOT NULL,
    kind TEXT,
    submitted_at TIMESTAMP,
    function1 BOOLEAN,
    after_hours BOOLEAN,
    admission_discharge BOOLEAN,
    home_care BOOLEAN,
    care_coordination BOOLEAN,
    proxy BOOLEAN,
    PRIMARY KEY (institution_id, fiscal_year)
);
-- Few indexes: each one is paid by every write, and a bulk confirmation writes 50,000
-- rows. A 保健所's search walks the code order and skips other areas' rows. SQLite
-- rewrites only the indexes holding a changed column, so the status index costs a bulk
-- confirmation little (1.0 s for 59,981) and spares the 状態 order a sort of every row
-- (80 ms without it). PostgreSQL goes without it (see its migration).
CREATE INDEX review_entries_code ON review_entries (fiscal_year, code);
CREATE INDEX review_entries_status ON review_entries (fiscal_year, status, code);
CREATE INDEX review_entries_name ON review_entries (fiscal_year, search_key, institution_id);
INSERT INTO review_years (fiscal_year)
SELECT fiscal_year FROM reporting_periods UNION SELECT fiscal_year FROM reports;
INSERT INTO review_entries (
    institution_id, fiscal_year, prefecture_id, jurisdiction_id, municipality_id, code,
    short_code, search_key, category, is_target, paper_report, has_email, report_id,
    status, kind, submitted_at, function1, after_hours, admission_discharge, home_care,
    care_coordination, proxy
)
SELECT i.id, y.fiscal_year, i.prefecture_id, i.jurisdiction_id, i.municipality_id, i.code,
    i.short_code, i.search_key, i.category, i.is_target, i.paper_report, i.email IS NOT NULL,
    r.id, COALESCE(r.status, 'none'), r.kind, r.submitted_at, r.function1, r.after_hours,
    r.admission_discharge, r.home_care, r.care_coordination, r.proxy
FROM review_years y CROSS JOIN institutions i
LEFT JOIN reports r ON r.institution_id = i.id AND r.fiscal_year = y.fiscal_year AND r.is_latest
WHERE i.is_target OR r.id IS NOT NULL;
CREATE INDEX review_entries_submitted ON review_entries (fiscal_year, submitted_at, code);
-- The review screens no longer filter or sort reports themselves: these indexes only
-- slowed every write of a report (a status change could not be a heap-only update
-- while status was indexed).
DROP INDEX reports_institution_year;
DROP INDEX reports_latest;
DROP INDEX reports_submitted_at;
-- 件数集計 still finds a year's reports (to count their versions per day); without an
-- index it would read every report's answers.
CREATE INDEX reports_fiscal_year ON reports (fiscal_year, institution_id, id);
ANALYZE;
