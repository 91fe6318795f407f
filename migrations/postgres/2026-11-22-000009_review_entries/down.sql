ALTER TABLE report_versions RESET (toast_tuple_target);
ALTER TABLE reports RESET (toast_tuple_target);
DROP INDEX reports_fiscal_year;
CREATE INDEX reports_submitted_at ON reports (fiscal_year, submitted_at);
CREATE INDEX reports_latest ON reports (fiscal_year, is_latest, institution_id);
CREATE INDEX reports_institution_year ON reports (
    institution_id, fiscal_year, is_latest, status, kind, proxy, function1,
    after_hours, admission_discharge, home_care, care_coordination, submitted_at, id
);
DROP TABLE review_entries;
DROP TABLE review_years;
