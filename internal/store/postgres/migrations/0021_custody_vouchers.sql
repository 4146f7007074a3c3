-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Portable custody (issue 18, point 1): custody vouchers between deployments.
--
-- A maker's build-record keys verify the build records and the first link of a voucher for
-- its devices. A party registers the public keys vouchers may be addressed to (custody_keys).
-- Every voucher exported or imported is kept (custody_vouchers) with the devices it names; an
-- imported voucher's links are kept by the SHA-256 of their payload, so that the same voucher
-- or link is never imported twice (a voucher sharing an earlier link with an imported one is a
-- replayed or doubled hand-over).
ALTER TABLE makers ADD COLUMN build_record_keys_pem TEXT NOT NULL DEFAULT '[]';

CREATE TABLE custody_keys (
  key_id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  name TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX custody_keys_party ON custody_keys (party_id, created_at);

CREATE TABLE custody_vouchers (
  id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  direction TEXT NOT NULL,
  maker_id TEXT NOT NULL DEFAULT '',
  sha256 BYTEA NOT NULL,
  content BYTEA NOT NULL,
  devices BIGINT NOT NULL,
  final_link TEXT NOT NULL,
  addressee_key_id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX custody_vouchers_party ON custody_vouchers (party_id, created_at);
CREATE TABLE custody_voucher_devices (
  voucher_id TEXT NOT NULL REFERENCES custody_vouchers(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  PRIMARY KEY (voucher_id, device_id)
);
CREATE INDEX custody_voucher_devices_device ON custody_voucher_devices (device_id);
CREATE TABLE custody_voucher_links (
  hash TEXT PRIMARY KEY,
  previous TEXT NOT NULL,
  voucher_id TEXT NOT NULL REFERENCES custody_vouchers(id),
  position BIGINT NOT NULL,
  addressee_key_id TEXT NOT NULL
);
