-- A reservation (the record of intent written before signing) is a narrow row of its own
-- table, and the certificate's row is written once, whole, when it is signed (issue 21).
-- A reservation used to insert the certificate's row with its index entries (serial,
-- certificates_ca_profile, certificates_report, certificates_key: each on a random leaf
-- page), and signing updated it (its state and issue time are in certificates_report, so
-- that entry was written again, and the row grew by its DER). Reservation and completion
-- commit in different group commits, so those pages went to the log twice per issuance.
-- certificate_intents holds only reservations not yet signed (completion moves the row), so
-- it stays a few pages that every batch shares. A serial is in one table or the other:
-- Reserve refuses a serial certificates holds, MarkIssued inserts the certificate and
-- deletes its intent in one transaction. The TBS is compared by the INSERT that completes.
-- Signing now inserts into certificates, so the status feed gets its row from an insert
-- trigger, as it got it from the update trigger when reserved became issued.
CREATE TABLE certificate_intents (
  serial TEXT PRIMARY KEY,
  ca_id TEXT NOT NULL,
  device_id TEXT,
  profile TEXT NOT NULL,
  tbs BLOB NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  crl_partition INTEGER NOT NULL DEFAULT 0,
  key_sha256 BLOB
) WITHOUT ROWID;
CREATE INDEX certificate_intents_device ON certificate_intents (device_id);
INSERT INTO certificate_intents (serial, ca_id, device_id, profile, tbs, not_before, not_after, created_at, crl_partition, key_sha256)
  SELECT serial, ca_id, device_id, profile, tbs, not_before, not_after, created_at, crl_partition, key_sha256 FROM certificates WHERE state = 'reserved';
DELETE FROM certificates WHERE state = 'reserved';
CREATE TRIGGER certificates_status_insert AFTER INSERT ON certificates
BEGIN
  INSERT INTO status_changes (ca_id, serial, crl_partition, at) VALUES (NEW.ca_id, NEW.serial, NEW.crl_partition, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
