-- The audit log as an RFC 6962 Merkle tree (issue 7); see docs/audit.md. Keep in step with the
-- PostgreSQL migration of the same name.
--
-- From here on an event's seq is its leaf index + 1, taken from the counter in audit_head
-- in the appending transaction (not from AUTOINCREMENT), so seqs are dense and in commit
-- order. leaf_hash is the RFC 6962 leaf hash of the event's canonical encoding; it is NULL
-- for events written before this migration until the first write transaction folds them in.
ALTER TABLE audit_events ADD COLUMN leaf_hash BLOB;
-- One row. size: events appended (the highest seq). tree_size: leaves folded into
-- compact_range and audit_nodes (equal to size except right after this migration).
-- compact_range: the compact range [0, tree_size), concatenated 32-byte hashes.
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL,
  tree_size INTEGER NOT NULL,
  compact_range BLOB NOT NULL
);
INSERT INTO audit_head (id, size, tree_size, compact_range) SELECT 1, COALESCE(MAX(seq), 0), 0, X'' FROM audit_events;
-- Hashes of the complete (perfect) subtrees above the leaves: level >= 1, index within level.
CREATE TABLE audit_nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE audit_checkpoints (
  size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  note BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
