-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Hallmark's own identities (issue 16, point 1): OpenID Connect sign-in.
--
-- signin_providers: one identity provider per party (issuer, client, the claim that names a
-- person; the client secret is never stored, only the name of the server's environment
-- variable that holds it). signin_bindings: which claim value is which principal of that
-- party. signin_flows: pending authorization requests (state hash, nonce, PKCE verifier,
-- redirect URI), consumed once, expiring within minutes; they are nonces, not identity state.
-- signin_sessions: sessions, stored by the hash of their bearer token.
CREATE TABLE signin_providers (
  party_id TEXT PRIMARY KEY REFERENCES parties(id),
  issuer TEXT NOT NULL,
  client_id TEXT NOT NULL,
  client_secret_env TEXT NOT NULL,
  claim TEXT NOT NULL,
  redirect_uris TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE signin_bindings (
  party_id TEXT NOT NULL REFERENCES parties(id),
  claim_value TEXT NOT NULL,
  principal_id TEXT NOT NULL REFERENCES principals(id),
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (party_id, claim_value)
);
CREATE TABLE signin_flows (
  state_hash BYTEA PRIMARY KEY,
  party_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  verifier TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX signin_flows_party ON signin_flows (party_id, expires_at);
CREATE TABLE signin_sessions (
  id TEXT PRIMARY KEY,
  token_hash BYTEA NOT NULL UNIQUE,
  principal_id TEXT NOT NULL REFERENCES principals(id),
  party_id TEXT NOT NULL,
  method TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX signin_sessions_principal ON signin_sessions (principal_id, created_at);
