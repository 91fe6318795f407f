-- Counters of committed changes that alter kept figures: "reports" (reports and their
-- statuses) and "master" (institutions). Every server process reads them on requests
-- that show kept figures (counts per status, 件数集計, the officer home), so a change
-- made through one process is seen by all at once. On PostgreSQL they are sequences:
-- a writer advances one after its commit, which takes no row lock (no writer waits for
-- another's transaction) and no commit of its own. SQLite keeps them in a table,
-- updated inside the writer's own transaction (its writers are serialized anyway).
CREATE SEQUENCE change_counter_reports;
CREATE SEQUENCE change_counter_master;
