DROP TABLE report_versions;
DROP TABLE reports;
DROP TABLE ndb_counts;
DROP TABLE reporting_periods;
DROP TABLE catalogs;
DROP FUNCTION report_versions_immutable;
