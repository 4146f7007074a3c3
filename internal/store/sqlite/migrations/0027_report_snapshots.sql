-- The console's report snapshots (issue 19, point 5): the leader computes the overview's and
-- the reports pages' reports per party on an interval (reports.snapshot_interval) and every
-- replica serves the latest. One row per party, replaced each round.
CREATE TABLE report_snapshots (
  party_id TEXT PRIMARY KEY,
  computed_at INTEGER NOT NULL,
  audit_size INTEGER NOT NULL,
  body BLOB NOT NULL
);
