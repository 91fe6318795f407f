ALTER TABLE institutions DROP COLUMN email_bounce_reason;
ALTER TABLE institutions DROP COLUMN email_bounced_at;
DROP TABLE mail_outbox;
DROP TABLE mail_campaigns;
DROP TABLE mail_templates;
