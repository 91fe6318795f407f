DROP TABLE meta;
DROP TABLE institutions;
DROP TABLE areas;
