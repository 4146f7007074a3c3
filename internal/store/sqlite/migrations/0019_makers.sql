-- Devices of makers that do not run Hallmark (issue 15).
--
-- A maker is registered by an operator with its trust anchors and intermediates, its
-- revocation sources (explicit ones, or none: the device certificates name them), the keys
-- its signed manifests verify with, and an onboarding policy. Its manifests are stored as
-- uploaded; a CSV one is active only once approved. A device of such a maker gets a record at
-- its first onboarding, with no manufacturer party, model or lot of this deployment: the
-- columns become nullable, and device_origins names its maker and keeps its factory
-- certificate, the issuer of it, and what the maker's CRL or OCSP said of it.
--
-- SQLite cannot drop a NOT NULL constraint, so devices is rebuilt. Foreign keys stay on: they
-- are deferred to the commit, by which time every row that referenced a device references
-- the same row again.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE devices_before_0019 AS SELECT * FROM devices;
DROP TABLE devices;
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  manufacturer_id TEXT REFERENCES parties(id),
  model_id TEXT REFERENCES models(id),
  lot_id TEXT REFERENCES lots(id),
  serial TEXT NOT NULL,
  state TEXT NOT NULL,
  custodian_id TEXT NOT NULL REFERENCES parties(id),
  factory_cert TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  environment_id TEXT NOT NULL DEFAULT '',
  operational_cert TEXT NOT NULL DEFAULT '',
  UNIQUE (manufacturer_id, serial)
);
INSERT INTO devices SELECT * FROM devices_before_0019;
DROP TABLE devices_before_0019;
CREATE INDEX devices_custodian ON devices (custodian_id, id);
CREATE INDEX devices_lot ON devices (lot_id, id);
CREATE INDEX devices_environment ON devices (environment_id, id);
CREATE INDEX devices_custodian_lot ON devices (custodian_id, lot_id); -- 0018

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
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (operator_id, name)
);
CREATE TABLE maker_manifests (
  id TEXT PRIMARY KEY,
  maker_id TEXT NOT NULL REFERENCES makers(id),
  format TEXT NOT NULL,
  sha256 BLOB NOT NULL,
  content BLOB NOT NULL,
  entries INTEGER NOT NULL,
  issued_at INTEGER,
  state TEXT NOT NULL,
  approval_id TEXT NOT NULL DEFAULT '',
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL,
  activated_at INTEGER
);
CREATE INDEX maker_manifests_active ON maker_manifests (maker_id, state, activated_at);
CREATE TABLE device_origins (
  device_id TEXT PRIMARY KEY REFERENCES devices(id),
  maker_id TEXT NOT NULL REFERENCES makers(id),
  serial TEXT NOT NULL,
  factory_serial TEXT NOT NULL,
  factory_der BLOB NOT NULL,
  issuer_der BLOB NOT NULL,
  spki_sha256 BLOB NOT NULL,
  state TEXT NOT NULL,
  revoked_at INTEGER,
  reason INTEGER,
  evidence TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (maker_id, serial)
);
