DROP TABLE public_details;
DROP TABLE public_institutions;
DROP TABLE publications;
DROP TABLE municipality_populations;
DROP TABLE publication_rules;
