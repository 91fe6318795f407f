-- Searches always filter by the officer's prefecture or jurisdiction first. These
-- composite indexes let the name search scan narrow index entries instead of the wide
-- rows, and give the two sort orders (code, name) within the scope without sorting.
CREATE INDEX institutions_prefecture_name ON institutions (prefecture_id, search_key, id);
CREATE INDEX institutions_jurisdiction_name ON institutions (jurisdiction_id, search_key, id);
CREATE INDEX institutions_prefecture_code ON institutions (prefecture_id, code);
CREATE INDEX institutions_jurisdiction_code ON institutions (jurisdiction_id, code);
-- Officers list the paper reporters of their area for proxy entry and mailing.
CREATE INDEX institutions_prefecture_paper ON institutions (prefecture_id, paper_report, is_target, code);
DROP INDEX institutions_prefecture;
DROP INDEX institutions_jurisdiction;
ANALYZE;
