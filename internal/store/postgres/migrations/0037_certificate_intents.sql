-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step. Here the
-- lever is larger: updating a row whose indexed columns change (state, issued_at in
-- certificates_report) writes a new entry in every index of the table.
CREATE TABLE certificate_intents (
  serial TEXT PRIMARY KEY,
  ca_id TEXT NOT NULL,
  device_id TEXT,
  profile TEXT NOT NULL,
  tbs BYTEA NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  crl_partition INTEGER NOT NULL DEFAULT 0,
  key_sha256 BYTEA
);
CREATE INDEX certificate_intents_device ON certificate_intents (device_id);
INSERT INTO certificate_intents (serial, ca_id, device_id, profile, tbs, not_before, not_after, created_at, crl_partition, key_sha256)
  SELECT serial, ca_id, device_id, profile, tbs, not_before, not_after, created_at, crl_partition, key_sha256 FROM certificates WHERE state = 'reserved';
DELETE FROM certificates WHERE state = 'reserved';
CREATE FUNCTION certificates_status_insert() RETURNS trigger AS $$
BEGIN
  INSERT INTO status_changes (ca_id, serial, crl_partition, at) VALUES (NEW.ca_id, NEW.serial, NEW.crl_partition, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER certificates_status_insert AFTER INSERT ON certificates
FOR EACH ROW EXECUTE FUNCTION certificates_status_insert();
