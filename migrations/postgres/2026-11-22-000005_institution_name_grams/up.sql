-- Every two-character window of each institution's search key. A name search looks up
-- its rarest window here instead of testing every name in the prefecture, which is what
-- made a search for a rare name slow on 110,000 institutions. Kept by the application
-- (`db::institutions::index_names`), as on SQLite.
CREATE TABLE institution_name_grams (
    gram TEXT COLLATE "C" NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institutions (id) ON DELETE CASCADE,
    PRIMARY KEY (gram, institution_id)
);
CREATE INDEX institution_name_grams_institution ON institution_name_grams (institution_id);

INSERT INTO institution_name_grams (gram, institution_id)
SELECT DISTINCT substr(i.search_key, p.n, 2), i.id
FROM institutions i JOIN generate_series(1, 1000) AS p (n) ON p.n < char_length(i.search_key)
ON CONFLICT DO NOTHING;
ANALYZE;
