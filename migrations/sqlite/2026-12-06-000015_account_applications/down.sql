DROP TABLE account_applications;
