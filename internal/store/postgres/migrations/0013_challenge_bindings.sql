-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Hostile tenants (issue 22): challenges.
--
-- A challenge is bound to the principal that asked for it, a purpose, an environment and the
-- key of the CSR it vouches for; a principal's live challenges are counted (by
-- challenges_principal) and the leader purges expired ones (by challenges_expiry). The
-- challenges outstanding at the upgrade (five minutes' worth at most) are dropped: a device
-- that held one asks for another.
DROP TABLE challenges;
CREATE TABLE challenges (
  id TEXT PRIMARY KEY,
  nonce BYTEA NOT NULL,
  purpose TEXT NOT NULL,
  principal_id TEXT NOT NULL,
  party_id TEXT NOT NULL,
  environment_id TEXT NOT NULL,
  key_sha256 BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX challenges_principal ON challenges (principal_id, expires_at);
CREATE INDEX challenges_expiry ON challenges (expires_at, id);
