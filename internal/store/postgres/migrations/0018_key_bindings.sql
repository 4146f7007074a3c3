-- Governance that holds (issue 17).
--
-- One key, one device: every certificate records the SHA-256 of its SubjectPublicKeyInfo at
-- reservation, and certificates_key finds every device a key was issued to. Certificates
-- from before this migration get theirs from their stored TBS when the store opens
-- (sqlstore.BackfillKeys), so the check covers them too.
--
-- Lot and model visibility: devices_custodian_lot answers "does this party hold a device of
-- this lot" with one index probe.
ALTER TABLE certificates ADD COLUMN key_sha256 BYTEA;
CREATE INDEX certificates_key ON certificates (key_sha256, device_id);
CREATE INDEX devices_custodian_lot ON devices (custodian_id, lot_id);
