-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
CREATE INDEX certificates_status ON certificates (ca_id, state, serial, revoked_at, reason, not_after);
CREATE TABLE crl_numbers (
  ca_id TEXT PRIMARY KEY,
  number BIGINT NOT NULL
);
CREATE TABLE ocsp_responders (
  serial TEXT PRIMARY KEY REFERENCES certificates(serial),
  ca_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  cert_der BYTEA NOT NULL,
  not_after BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX ocsp_responders_ca ON ocsp_responders (ca_id, not_after);
CREATE TABLE status_changes (
  seq BIGSERIAL PRIMARY KEY,
  ca_id TEXT NOT NULL,
  serial TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX status_changes_at ON status_changes (at);
CREATE FUNCTION certificates_status_change() RETURNS trigger AS $$
BEGIN
  IF OLD.state IS DISTINCT FROM NEW.state OR OLD.reason IS DISTINCT FROM NEW.reason THEN
    INSERT INTO status_changes (ca_id, serial, at) VALUES (NEW.ca_id, NEW.serial, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT);
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER certificates_status_change AFTER UPDATE OF state, reason ON certificates
FOR EACH ROW EXECUTE FUNCTION certificates_status_change();
