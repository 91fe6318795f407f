CREATE INDEX reports_fiscal_year_status ON reports (fiscal_year, status);
DROP INDEX report_versions_report_time;
DROP INDEX institutions_review;
DROP INDEX reports_institution_year;
