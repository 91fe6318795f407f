DROP TABLE institution_name_grams;
