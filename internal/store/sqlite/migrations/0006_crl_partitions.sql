-- CRL partitions (docs/revocation-status.md): a CA's partition count, fixed at creation (0:
-- unpartitioned, which every CA created before this migration stays), and each
-- certificate's partition, fixed at reservation. The covering index gains crl_partition
-- after state, so a partition's revoked certificates are one index range scan and the full
-- CRL is still one. The change feed carries the partition, so a change rebuilds only it.
ALTER TABLE cas ADD COLUMN crl_partitions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN crl_partition INTEGER NOT NULL DEFAULT 0;
DROP INDEX certificates_status;
CREATE INDEX certificates_status ON certificates (ca_id, state, crl_partition, serial, revoked_at, reason, not_after);
ALTER TABLE status_changes ADD COLUMN crl_partition INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER certificates_status_change;
CREATE TRIGGER certificates_status_change AFTER UPDATE OF state, reason ON certificates
WHEN OLD.state IS NOT NEW.state OR OLD.reason IS NOT NEW.reason
BEGIN
  INSERT INTO status_changes (ca_id, serial, crl_partition, at) VALUES (NEW.ca_id, NEW.serial, NEW.crl_partition, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
