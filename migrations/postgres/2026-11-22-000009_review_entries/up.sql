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
) WITH (fillfactor = 70); -- room on each page for a status change to stay a heap-only update
-- Few indexes: each one is paid by every write, and a bulk confirmation writes 50,000
-- rows. Status is deliberately not indexed: a search by status walks the code order
-- and skips the other statuses (a page needs a few hundred rows), and a status change
-- then touches no index at all. A 保健所's search walks the code order in the same way.
CREATE INDEX review_entries_code ON review_entries (fiscal_year, code);
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
-- NULLS FIRST: unsubmitted last when sorted newest first, as on SQLite.
CREATE INDEX review_entries_submitted ON review_entries (fiscal_year, submitted_at NULLS FIRST, code);
-- The review screens no longer filter or sort reports themselves: these indexes only
-- slowed every write of a report (a status change could not be a heap-only update
-- while status was indexed).
DROP INDEX reports_institution_year;
DROP INDEX reports_latest;
DROP INDEX reports_submitted_at;
-- 件数集計 still finds a year's reports (to count their versions per day); without an
-- index it would read every report's answers.
CREATE INDEX reports_fiscal_year ON reports (fiscal_year, institution_id, id);
-- Answers, NDB values and determinations (1–2 KB each) move out of the row: a report's
-- row shrinks to its status and dates, so 件数集計 reads the versions of a year, and a
-- bulk confirmation rewrites reports, without carrying the answers along (the versions
-- heap of the demo: 5,097 pages → 1,070). Rows written from now on.
ALTER TABLE report_versions SET (toast_tuple_target = 128);
ALTER TABLE reports SET (toast_tuple_target = 128);
ANALYZE;
