-- The 7 digits the bureau prints (郡市区番号 + 医療機関等番号 + 検証番号), for searching
-- by the short code; and the normalized name (width, kana and spacing folded).
ALTER TABLE institutions ADD COLUMN short_code TEXT NOT NULL DEFAULT '';
ALTER TABLE institutions ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
UPDATE institutions SET short_code = substr(code, 4), search_key = lower(name);
CREATE INDEX institutions_short_code ON institutions (short_code);
CREATE INDEX institutions_target ON institutions (prefecture_id, is_target);

-- One upload of a master file: parsed at preview, applied (or cancelled) later.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    layout TEXT NOT NULL,
    prefecture_id INTEGER NOT NULL REFERENCES areas (id),
    created_by INTEGER REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('previewed', 'applied', 'cancelled')),
    fingerprint TEXT NOT NULL,
    payload TEXT NOT NULL,
    summary TEXT NOT NULL,
    applied_at TIMESTAMP
);
CREATE INDEX imports_prefecture ON imports (prefecture_id, created_at);
