-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Operational stage: environments with versioned policies, onboarding challenges, the
-- evidence each certificate was issued on, and manufacturing revocation runs with their
-- cascade items.
CREATE TABLE environments (
  id TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL REFERENCES parties(id),
  name TEXT NOT NULL,
  site TEXT NOT NULL DEFAULT '',
  zone TEXT NOT NULL DEFAULT '',
  issuing_ca_id TEXT NOT NULL REFERENCES cas(id),
  trust_domain TEXT NOT NULL,
  lifetime_seconds BIGINT NOT NULL,
  max_age_seconds BIGINT NOT NULL,
  services TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  UNIQUE (operator_id, name)
);
CREATE TABLE policies (
  environment_id TEXT NOT NULL REFERENCES environments(id),
  kind TEXT NOT NULL,
  version BIGINT NOT NULL,
  spec TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, kind, version)
);
ALTER TABLE devices ADD COLUMN environment_id TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN operational_cert TEXT NOT NULL DEFAULT '';
CREATE INDEX devices_environment ON devices (environment_id, id);
CREATE TABLE challenges (
  id TEXT PRIMARY KEY,
  nonce BYTEA NOT NULL,
  purpose TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE TABLE evidence (
  serial TEXT PRIMARY KEY REFERENCES certificates(serial),
  device_id TEXT NOT NULL REFERENCES devices(id),
  environment_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  based_on TEXT NOT NULL,
  superseded TEXT NOT NULL DEFAULT '',
  factory_serial TEXT NOT NULL,
  protocol TEXT NOT NULL,
  policy_kind TEXT NOT NULL,
  policy_version BIGINT NOT NULL,
  principal_id TEXT NOT NULL,
  facts TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL
);
CREATE INDEX evidence_device ON evidence (device_id, created_at);
CREATE INDEX evidence_factory ON evidence (factory_serial);
CREATE INDEX certificates_ca_profile ON certificates (ca_id, profile, serial);
CREATE TABLE revocation_runs (
  id TEXT PRIMARY KEY,
  manufacturer_id TEXT NOT NULL REFERENCES parties(id),
  selector TEXT NOT NULL,
  reason BIGINT NOT NULL,
  requested_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE TABLE cascade_items (
  run_id TEXT NOT NULL REFERENCES revocation_runs(id),
  serial TEXT NOT NULL,
  device_id TEXT NOT NULL,
  action TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (run_id, serial)
);
CREATE INDEX cascade_items_device ON cascade_items (device_id);
