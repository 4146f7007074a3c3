-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Leadership among replicas (issue 8, docs/operations.md): one row per lease, taken by a
-- replica for a bounded time and renewed by it; another replica takes it once it expired.
-- epoch grows whenever the lease changes hands, and fences the writes of a former holder.
-- Times are unix microseconds on the database server's clock.
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  acquired_at BIGINT NOT NULL
);
-- The latest CRL of each issuing CA as the leader signed it; every replica serves these
-- bytes. number only grows (it comes from crl_numbers).
CREATE TABLE crls (
  ca_id TEXT PRIMARY KEY,
  number BIGINT NOT NULL,
  this_update BIGINT NOT NULL,
  next_update BIGINT NOT NULL,
  der BYTEA NOT NULL,
  holder TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  stored_at BIGINT NOT NULL
);
