-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- The audit log as an RFC 6962 Merkle tree (issue 7); see docs/audit.md.
--
-- From here on an event's seq is its leaf index + 1, taken from the counter in audit_head
-- in the appending transaction: an identity leaves gaps on rollback and does not follow
-- commit order across replicas, so it is dropped, and the events written before are
-- renumbered densely in their old order. leaf_hash is NULL for those until the first write
-- transaction folds them in.
ALTER TABLE audit_events ALTER COLUMN seq DROP IDENTITY IF EXISTS;
ALTER TABLE audit_events ADD COLUMN leaf_hash BYTEA;
UPDATE audit_events SET seq = -seq;
UPDATE audit_events e SET seq = r.n
  FROM (SELECT seq, row_number() OVER (ORDER BY seq DESC) AS n FROM audit_events) r
  WHERE e.seq = r.seq;
CREATE TABLE audit_head (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  size BIGINT NOT NULL,
  tree_size BIGINT NOT NULL,
  compact_range BYTEA NOT NULL
);
INSERT INTO audit_head (id, size, tree_size, compact_range) SELECT 1, COALESCE(MAX(seq), 0), 0, ''::bytea FROM audit_events;
CREATE TABLE audit_nodes (
  level BIGINT NOT NULL,
  idx BIGINT NOT NULL,
  hash BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE audit_checkpoints (
  size BIGINT PRIMARY KEY,
  root BYTEA NOT NULL,
  note BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
