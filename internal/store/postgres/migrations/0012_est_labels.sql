-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Hostile tenants (issue 22): EST labels.
--
-- An EST label by name resolves to the environment that first claimed the name, for good: a
-- later environment of the same name (another operator's) is reachable over EST by its ID
-- only. A name several environments already share goes to the one created first.
CREATE TABLE est_labels (
  name TEXT PRIMARY KEY,
  environment_id TEXT NOT NULL UNIQUE REFERENCES environments(id),
  claimed_at BIGINT NOT NULL
);
INSERT INTO est_labels (name, environment_id, claimed_at)
SELECT e.name, e.id, e.created_at FROM environments e
WHERE NOT EXISTS (SELECT 1 FROM environments f WHERE f.name = e.name AND (f.created_at < e.created_at OR (f.created_at = e.created_at AND f.id < e.id)));
