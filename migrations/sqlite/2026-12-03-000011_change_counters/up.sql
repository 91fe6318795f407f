-- Counters of committed changes that alter kept figures: "reports" (reports and their
-- statuses) and "master" (institutions). Every server process reads them on requests
-- that show kept figures (counts per status, 件数集計, the officer home), so a change
-- made through one process is seen by all at once. A writer bumps them inside its own
-- transaction (SQLite's writers are serialized anyway, and this costs no second
-- commit); PostgreSQL uses sequences instead.
CREATE TABLE change_counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO change_counters (name, value) VALUES ('reports', 0), ('master', 0);
