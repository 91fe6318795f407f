DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
DROP TABLE users;
