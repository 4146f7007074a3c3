-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
ALTER TABLE cas ADD COLUMN crl_partitions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN crl_partition INTEGER NOT NULL DEFAULT 0;
DROP INDEX certificates_status;
CREATE INDEX certificates_status ON certificates (ca_id, state, crl_partition, serial, revoked_at, reason, not_after);
ALTER TABLE status_changes ADD COLUMN crl_partition INTEGER NOT NULL DEFAULT 0;
CREATE OR REPLACE FUNCTION certificates_status_change() RETURNS trigger AS $$
BEGIN
  IF OLD.state IS DISTINCT FROM NEW.state OR OLD.reason IS DISTINCT FROM NEW.reason THEN
    INSERT INTO status_changes (ca_id, serial, crl_partition, at) VALUES (NEW.ca_id, NEW.serial, NEW.crl_partition, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT);
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
