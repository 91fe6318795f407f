-- Publication (issue 16). The rules a prefecture publishes by (domain.md §5), the
-- municipalities' populations those rules read, and each published fiscal year: a
-- snapshot of the confirmed reports taken when an administrator publishes, with the
-- summary tables already masked and one row per institution for the public search.
CREATE TABLE publication_rules (
    prefecture_id INTEGER PRIMARY KEY REFERENCES areas(id),
    threshold INTEGER NOT NULL,
    small_population INTEGER NOT NULL,
    small_threshold INTEGER NOT NULL,
    hidden_below INTEGER NOT NULL,
    -- 保健所, 二次医療圏 and prefecture sums.
    area_threshold INTEGER NOT NULL,
    medical_area_threshold INTEGER NOT NULL,
    total_threshold INTEGER NOT NULL,
    -- 0: off. Otherwise an aggregated cell built from fewer institutions is masked.
    min_institutions INTEGER NOT NULL,
    mark TEXT NOT NULL,
    prefecture_url TEXT NOT NULL,
    explanation TEXT NOT NULL,
    updated_by INTEGER REFERENCES users(id),
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE municipality_populations (
    area_id INTEGER PRIMARY KEY REFERENCES areas(id),
    population BIGINT NOT NULL,
    -- 'import' (kakari import population) or 'demo' (the shipped approximate figures).
    source TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE publications (
    id INTEGER PRIMARY KEY,
    prefecture_id INTEGER NOT NULL REFERENCES areas(id),
    fiscal_year INTEGER NOT NULL,
    published_at TIMESTAMP NOT NULL,
    published_by INTEGER REFERENCES users(id),
    -- The latest confirmation the snapshot holds: 「〇月〇日までに確認されたデータ」.
    confirmed_until TIMESTAMP,
    institutions INTEGER NOT NULL,
    -- The rules applied and the masked summary tables (JSON), fixed at publishing; the
    -- same tables unmasked, for administrators to check (`export tables --raw`).
    rules TEXT NOT NULL,
    tables TEXT NOT NULL,
    raw_tables TEXT NOT NULL,
    UNIQUE (prefecture_id, fiscal_year)
);

CREATE TABLE public_institutions (
    publication_id INTEGER NOT NULL REFERENCES publications(id),
    institution_id INTEGER NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    search_key TEXT NOT NULL,
    category TEXT NOT NULL,
    jurisdiction_id INTEGER,
    municipality_id INTEGER,
    postcode TEXT,
    address TEXT NOT NULL,
    phone TEXT,
    function1 BOOLEAN NOT NULL,
    after_hours BOOLEAN NOT NULL,
    admission_discharge BOOLEAN NOT NULL,
    home_care BOOLEAN NOT NULL,
    care_coordination BOOLEAN NOT NULL,
    -- Bit n set: 一次診療の対応領域 n (1–17) / 疾患 n (1–40), for the search.
    primary_areas BIGINT NOT NULL,
    diseases BIGINT NOT NULL,
    confirmed_at TIMESTAMP,
    PRIMARY KEY (publication_id, institution_id)
);
-- The published answers with the NDB counts already masked (JSON), apart from the
-- search rows so that a search reads narrow rows.
CREATE TABLE public_details (
    publication_id INTEGER NOT NULL REFERENCES publications(id),
    institution_id INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (publication_id, institution_id)
);
CREATE INDEX public_institutions_by_code ON public_institutions (publication_id, code);
CREATE INDEX public_institutions_by_municipality
    ON public_institutions (publication_id, municipality_id, code);
