-- Rotation (docs/rotation.md). A CA records the CA that succeeded it, when, and the end of
-- the overlap during which it still signs; a succeeded CA is not revoked and keeps serving
-- its CRLs and OCSP answers.
ALTER TABLE cas ADD COLUMN successor_id TEXT REFERENCES cas(id);
ALTER TABLE cas ADD COLUMN succeeded_at BIGINT;
ALTER TABLE cas ADD COLUMN issues_until BIGINT;
-- The cross-certificates of root rollovers: issuer_ca_id signed subject_ca_id's name and key.
CREATE TABLE ca_cross_certificates (
  serial TEXT PRIMARY KEY,
  subject_ca_id TEXT NOT NULL REFERENCES cas(id),
  issuer_ca_id TEXT NOT NULL REFERENCES cas(id),
  cert_der BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX ca_cross_certificates_subject ON ca_cross_certificates (subject_ca_id);
CREATE INDEX ca_cross_certificates_issuer ON ca_cross_certificates (issuer_ca_id);
-- The key history of build-record (and other document) signing keys: signing_keys holds the
-- current key of a party and purpose, this table the keys it replaced.
CREATE TABLE retired_signing_keys (
  id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  purpose TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_key_der BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT NOT NULL
);
CREATE INDEX retired_signing_keys_party ON retired_signing_keys (party_id, purpose);
-- The audit log's checkpoint keys, current (retired_at NULL) and retired.
CREATE TABLE audit_keys (
  key_id TEXT PRIMARY KEY,
  verifier_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  retired_at BIGINT
);
