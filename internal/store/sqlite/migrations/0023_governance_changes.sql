-- Governance changes under approval (issue 17): a party's rule per kind of change (n-of-m
-- quorums over named approver groups), its approver groups, the quorum a pending change was
-- made under, and waivers (a time-bound exception to one policy rule for one device).
ALTER TABLE approvals ADD COLUMN quorum TEXT NOT NULL DEFAULT '[]';
CREATE TABLE change_rules (
  party_id TEXT NOT NULL REFERENCES parties(id),
  kind TEXT NOT NULL,
  quorum TEXT NOT NULL,
  expiry_seconds INTEGER NOT NULL,
  set_by TEXT NOT NULL,
  set_at INTEGER NOT NULL,
  PRIMARY KEY (party_id, kind)
);
CREATE TABLE approver_groups (
  party_id TEXT NOT NULL REFERENCES parties(id),
  name TEXT NOT NULL,
  members TEXT NOT NULL,
  set_by TEXT NOT NULL,
  set_at INTEGER NOT NULL,
  PRIMARY KEY (party_id, name)
);
CREATE TABLE waivers (
  id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL REFERENCES parties(id),
  device_id TEXT NOT NULL,
  environment_id TEXT NOT NULL,
  rule TEXT NOT NULL,
  reason TEXT NOT NULL,
  approval_id TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX waivers_device ON waivers (device_id, not_after);
CREATE INDEX waivers_party ON waivers (party_id, not_after);
