DROP TABLE mail_outbox;
DROP TABLE mail_campaigns;
DROP TABLE mail_templates;
