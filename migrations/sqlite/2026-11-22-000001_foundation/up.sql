-- Areas form a tree: prefecture -> jurisdiction (保健所管轄) -> municipality (市区町村).
CREATE TABLE areas (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('prefecture', 'jurisdiction', 'municipality')),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id INTEGER REFERENCES areas (id),
    prefecture_code TEXT NOT NULL,
    district TEXT,
    secondary_area TEXT,
    contact_desk TEXT,
    sort_order INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, code)
);
CREATE INDEX areas_parent ON areas (parent_id);

CREATE TABLE institutions (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    prefecture_code TEXT NOT NULL,
    fee_table TEXT NOT NULL,
    category TEXT NOT NULL,
    is_special_function BOOLEAN NOT NULL DEFAULT 0,
    is_correctional BOOLEAN NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    name_kana TEXT,
    postcode TEXT,
    address TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    prefecture_id INTEGER NOT NULL REFERENCES areas (id),
    jurisdiction_id INTEGER REFERENCES areas (id),
    municipality_id INTEGER REFERENCES areas (id),
    founder TEXT,
    manager TEXT,
    designated_on DATE,
    departments TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    paper_report BOOLEAN NOT NULL DEFAULT 0,
    target_override BOOLEAN,
    target_override_reason TEXT,
    is_target BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX institutions_prefecture ON institutions (prefecture_id);
CREATE INDEX institutions_jurisdiction ON institutions (jurisdiction_id);
CREATE INDEX institutions_municipality ON institutions (municipality_id);

-- Deployment facts: whether this is a demo database, its seed, and similar.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
