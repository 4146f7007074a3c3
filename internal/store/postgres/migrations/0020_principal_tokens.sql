-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Hallmark's own identities (issue 16): tokens that expire, deployment administrators and
-- break-glass access.
--
-- The deployment scope is a party row of ID '*' (party.Deployment): no slug can be '*', and its
-- name starts with a control character, which no party name may hold. The store never returns
-- it as a party; it exists so that deployment administrators are principals like any other.
-- Every administrator from before this migration becomes a deployment administrator (an
-- administrator whose name another administrator already has gets its old party's ID as a
-- prefix: ops-admin) and loses the duty limits it had in its party.
--
-- Tokens move to principal_tokens. principals.token_hash stays (SQLite cannot drop a UNIQUE
-- column) but is never read again: new principals get random bytes there. A token carried over
-- has no expiry until the server's first start gives it one (principals.upgrade_token_lifetime)
-- and does not authenticate meanwhile.
INSERT INTO parties (id, name, kind, created_at) VALUES ('*', chr(1) || 'deployment', 'deployment', 0);

CREATE TABLE principal_tokens (
  id TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL REFERENCES principals(id),
  token_hash BYTEA NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  expires_at BIGINT,
  last_used_at BIGINT,
  revoked_at BIGINT,
  superseded_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX principal_tokens_principal ON principal_tokens (principal_id, created_at);
INSERT INTO principal_tokens (id, principal_id, token_hash, created_at, last_used_at)
SELECT 'tok_' || id, id, token_hash, created_at, last_used_at FROM principals;

ALTER TABLE principals ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE principals ADD COLUMN access_id TEXT NOT NULL DEFAULT '';
ALTER TABLE principals ADD COLUMN disabled_at BIGINT;

UPDATE principals SET name = party_id || '-' || name
WHERE admin = 1 AND EXISTS (SELECT 1 FROM principals o WHERE o.admin = 1 AND o.name = principals.name AND o.id < principals.id);
DELETE FROM principal_duties WHERE principal_id IN (SELECT id FROM principals WHERE admin = 1);
UPDATE principals SET party_id = '*' WHERE admin = 1;

CREATE TABLE party_access (
  id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  principal_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  duration_seconds BIGINT NOT NULL,
  state TEXT NOT NULL,
  requested_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  decided_by TEXT NOT NULL DEFAULT '',
  decided_at BIGINT,
  comment TEXT NOT NULL DEFAULT '',
  until_at BIGINT,
  ended_at BIGINT,
  ended_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX party_access_party ON party_access (party_id, requested_at);
CREATE INDEX party_access_principal ON party_access (principal_id, party_id, requested_at);
