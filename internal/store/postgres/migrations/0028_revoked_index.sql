-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
CREATE INDEX certificates_revoked ON certificates (ca_id, crl_partition, serial) INCLUDE (revoked_at, reason, not_after) WHERE state = 'revoked';
DROP INDEX certificates_status;
