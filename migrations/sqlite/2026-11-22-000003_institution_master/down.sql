DROP TABLE imports;
DROP INDEX institutions_target;
DROP INDEX institutions_short_code;
ALTER TABLE institutions DROP COLUMN search_key;
ALTER TABLE institutions DROP COLUMN short_code;
