-- Every two-character window of each institution's search key. A name search looks up
-- its rarest window here instead of testing every name in the prefecture, which is what
-- made a search for a rare name slow on 110,000 institutions. Kept by the application
-- (`db::institutions::index_names`), because SQLite triggers cannot split text.
CREATE TABLE institution_name_grams (
    gram TEXT NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institutions (id) ON DELETE CASCADE,
    PRIMARY KEY (gram, institution_id)
) WITHOUT ROWID;
CREATE INDEX institution_name_grams_institution ON institution_name_grams (institution_id);

INSERT OR IGNORE INTO institution_name_grams (gram, institution_id)
WITH RECURSIVE positions (n) AS (
    SELECT 1 UNION ALL SELECT n + 1 FROM positions WHERE n < 1000
)
SELECT substr(i.search_key, p.n, 2), i.id
FROM institutions i JOIN positions p ON p.n < length(i.search_key);
ANALYZE;
