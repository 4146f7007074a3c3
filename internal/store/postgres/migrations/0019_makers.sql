-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Devices of makers that do not run Hallmark (issue 15).
--
-- A maker is registered by an operator with its trust anchors and intermediates, its
-- revocation sources (explicit ones, or none: the device certificates name them), the keys
-- its signed manifests verify with, and an onboarding policy. Its manifests are stored as
-- uploaded; a CSV one is active only once approved. A device of such a maker gets a record at
-- its first onboarding, with no manufacturer party, model or lot of this deployment: the
-- columns become nullable, and device_origins names its maker and keeps its factory
-- certificate, the issuer of it, and what the maker's CRL or OCSP said of it.
ALTER TABLE devices ALTER COLUMN manufacturer_id DROP NOT NULL;
ALTER TABLE devices ALTER COLUMN model_id DROP NOT NULL;
ALTER TABLE devices ALTER COLUMN lot_id DROP NOT NULL;

CREATE TABLE makers (
  id TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL REFERENCES parties(id),
  name TEXT NOT NULL,
  anchors_pem TEXT NOT NULL,
  intermediates_pem TEXT NOT NULL DEFAULT '',
  crl_urls TEXT NOT NULL DEFAULT '[]',
  ocsp_urls TEXT NOT NULL DEFAULT '[]',
  manifest_keys_pem TEXT NOT NULL DEFAULT '',
  policy TEXT NOT NULL DEFAULT '{}',
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (operator_id, name)
);
CREATE TABLE maker_manifests (
  id TEXT PRIMARY KEY,
  maker_id TEXT NOT NULL REFERENCES makers(id),
  format TEXT NOT NULL,
  sha256 BYTEA NOT NULL,
  content BYTEA NOT NULL,
  entries BIGINT NOT NULL,
  issued_at BIGINT,
  state TEXT NOT NULL,
  approval_id TEXT NOT NULL DEFAULT '',
  uploaded_by TEXT NOT NULL,
  uploaded_at BIGINT NOT NULL,
  activated_at BIGINT
);
CREATE INDEX maker_manifests_active ON maker_manifests (maker_id, state, activated_at);
CREATE TABLE device_origins (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  maker_id TEXT NOT NULL REFERENCES makers(id),
  serial TEXT NOT NULL,
  factory_serial TEXT NOT NULL,
  factory_der BYTEA NOT NULL,
  issuer_der BYTEA NOT NULL,
  spki_sha256 BYTEA NOT NULL,
  state TEXT NOT NULL,
  revoked_at BIGINT,
  reason BIGINT,
  evidence TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  UNIQUE (maker_id, serial)
);
