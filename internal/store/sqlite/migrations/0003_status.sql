-- Revocation status: CRL numbers, delegated OCSP responders, a covering index for CRL
-- building, and a change feed that OCSP responders poll (written by a trigger, so that every
-- path that changes a certificate's state feeds it).
CREATE INDEX certificates_status ON certificates (ca_id, state, serial, revoked_at, reason, not_after);
CREATE TABLE crl_numbers (
  ca_id TEXT PRIMARY KEY,
  number INTEGER NOT NULL
);
CREATE TABLE ocsp_responders (
  serial TEXT PRIMARY KEY REFERENCES certificates(serial),
  ca_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  cert_der BLOB NOT NULL,
  not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX ocsp_responders_ca ON ocsp_responders (ca_id, not_after);
CREATE TABLE status_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ca_id TEXT NOT NULL,
  serial TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX status_changes_at ON status_changes (at);
CREATE TRIGGER certificates_status_change AFTER UPDATE OF state, reason ON certificates
WHEN OLD.state IS NOT NEW.state OR OLD.reason IS NOT NEW.reason
BEGIN
  INSERT INTO status_changes (ca_id, serial, at) VALUES (NEW.ca_id, NEW.serial, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
