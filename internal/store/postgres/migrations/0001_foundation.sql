-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Foundation: parties, principals, ownership matrix, CAs, catalog, devices, certificates,
-- build records, custody, audit. Times are BIGINT microseconds since the Unix epoch (UTC).
CREATE TABLE parties (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE principals (
  id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  admin BIGINT NOT NULL DEFAULT 0,
  token_hash BYTEA NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  UNIQUE (party_id, name)
);
CREATE TABLE ownership (
  stage TEXT NOT NULL,
  duty TEXT NOT NULL,
  scope_kind TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  party_id TEXT NOT NULL REFERENCES parties(id),
  granted_by TEXT NOT NULL,
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (stage, duty, scope_kind, scope_id)
);
CREATE TABLE cas (
  id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  stage TEXT NOT NULL,
  role TEXT NOT NULL,
  parent_id TEXT REFERENCES cas(id),
  name TEXT NOT NULL,
  key_id TEXT,
  imported BIGINT NOT NULL DEFAULT 0,
  cert_der BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (party_id, name)
);
CREATE TABLE signing_keys (
  id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  purpose TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_key_der BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (party_id, purpose)
);
CREATE TABLE models (
  id TEXT PRIMARY KEY,
  manufacturer_id TEXT NOT NULL REFERENCES parties(id),
  name TEXT NOT NULL,
  hardware_type TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (manufacturer_id, name)
);
CREATE TABLE lots (
  id TEXT PRIMARY KEY,
  manufacturer_id TEXT NOT NULL REFERENCES parties(id),
  model_id TEXT NOT NULL REFERENCES models(id),
  name TEXT NOT NULL,
  line TEXT NOT NULL,
  issuing_ca_id TEXT NOT NULL REFERENCES cas(id),
  created_at BIGINT NOT NULL,
  UNIQUE (manufacturer_id, name)
);
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  manufacturer_id TEXT NOT NULL REFERENCES parties(id),
  model_id TEXT NOT NULL REFERENCES models(id),
  lot_id TEXT NOT NULL REFERENCES lots(id),
  serial TEXT NOT NULL,
  state TEXT NOT NULL,
  custodian_id TEXT NOT NULL REFERENCES parties(id),
  factory_cert TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (manufacturer_id, serial)
);
CREATE INDEX devices_custodian ON devices (custodian_id, id);
CREATE INDEX devices_lot ON devices (lot_id, id);
-- ca_id has no foreign key: a CA's own certificate is reserved before its CA row exists.
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  ca_id TEXT NOT NULL,
  device_id TEXT,
  profile TEXT NOT NULL,
  state TEXT NOT NULL,
  tbs BYTEA NOT NULL,
  der BYTEA,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  issued_at BIGINT,
  revoked_at BIGINT,
  reason BIGINT
);
CREATE INDEX certificates_device ON certificates (device_id);
CREATE TABLE build_records (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices(id),
  payload_sha256 BYTEA NOT NULL,
  envelope BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX build_records_device ON build_records (device_id, created_at);
CREATE TABLE transfers (
  id TEXT PRIMARY KEY,
  from_party_id TEXT NOT NULL REFERENCES parties(id),
  to_party_id TEXT NOT NULL REFERENCES parties(id),
  state TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  offered_by TEXT NOT NULL,
  offered_at BIGINT NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_at BIGINT
);
CREATE TABLE transfer_items (
  transfer_id TEXT NOT NULL REFERENCES transfers(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  open BIGINT,
  PRIMARY KEY (transfer_id, device_id)
);
-- At most one open offer per device: two concurrent transfers cannot both be offered.
CREATE UNIQUE INDEX transfer_items_open ON transfer_items (device_id) WHERE open = 1;
CREATE TABLE audit_events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at BIGINT NOT NULL,
  party_id TEXT NOT NULL,
  principal_id TEXT NOT NULL,
  action TEXT NOT NULL,
  stage TEXT NOT NULL DEFAULT '',
  scope TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
