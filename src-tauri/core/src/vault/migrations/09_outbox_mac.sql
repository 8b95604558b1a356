ALTER TABLE alert_outbox ADD COLUMN mac BLOB;
