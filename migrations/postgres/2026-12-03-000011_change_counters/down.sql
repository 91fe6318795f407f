DROP SEQUENCE change_counter_master;
DROP SEQUENCE change_counter_reports;
