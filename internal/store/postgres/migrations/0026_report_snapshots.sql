-- The console's report snapshots (issue 19, point 5): the leader computes the overview's and
-- the reports pages' reports per party on an interval (reports.snapshot_interval) and every
-- replica serves the latest. One row per party and part (the overview, or one report), so a
-- page reads only its own; replaced each round.
CREATE TABLE report_snapshots (
  party_id TEXT NOT NULL,
  part TEXT NOT NULL,
  computed_at BIGINT NOT NULL,
  audit_size BIGINT NOT NULL,
  body BYTEA NOT NULL,
  PRIMARY KEY (party_id, part)
);
