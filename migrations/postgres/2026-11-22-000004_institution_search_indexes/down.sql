CREATE INDEX institutions_prefecture ON institutions (prefecture_id);
CREATE INDEX institutions_jurisdiction ON institutions (jurisdiction_id);
DROP INDEX institutions_prefecture_paper;
DROP INDEX institutions_jurisdiction_code;
DROP INDEX institutions_prefecture_code;
DROP INDEX institutions_jurisdiction_name;
DROP INDEX institutions_prefecture_name;
