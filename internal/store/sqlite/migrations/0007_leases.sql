-- Keep in step with the PostgreSQL migration of the same name.
-- Leadership among replicas (issue 8, docs/operations.md): one row per lease, taken by a
-- replica for a bounded time and renewed by it; another replica takes it once it expired.
-- epoch grows whenever the lease changes hands, and fences the writes of a former holder.
-- Times are unix microseconds on the database server's clock.
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL
);
-- The latest CRL of each issuing CA as the leader signed it; every replica serves these
-- bytes. number only grows (it comes from crl_numbers).
CREATE TABLE crls (
  ca_id TEXT PRIMARY KEY,
  number INTEGER NOT NULL,
  this_update INTEGER NOT NULL,
  next_update INTEGER NOT NULL,
  der BLOB NOT NULL,
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  stored_at INTEGER NOT NULL
);
