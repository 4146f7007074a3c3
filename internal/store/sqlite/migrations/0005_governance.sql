-- Governance: approvals (one mechanism for support access, re-admission, whole-CA revocation
-- and onboarding under manual approval), support grants, separation-of-duties rules and the
-- duties a principal is limited to.
-- How long a support window in an environment may be (default 8 hours).
ALTER TABLE environments ADD COLUMN support_max_seconds INTEGER NOT NULL DEFAULT 28800;
CREATE TABLE approval_rules (
  kind TEXT PRIMARY KEY,
  approvers INTEGER NOT NULL,
  other_party INTEGER NOT NULL,
  expiry_seconds INTEGER NOT NULL,
  set_by TEXT NOT NULL,
  set_at INTEGER NOT NULL
);
CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  requester_party TEXT NOT NULL REFERENCES parties(id),
  requester_principal TEXT NOT NULL,
  approver_party TEXT NOT NULL,
  scope TEXT NOT NULL,
  subject TEXT NOT NULL,
  reason TEXT NOT NULL,
  until_at INTEGER,
  payload TEXT NOT NULL DEFAULT '{}',
  approvers INTEGER NOT NULL,
  other_party INTEGER NOT NULL,
  decisions TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  decided_at INTEGER,
  executed_at INTEGER
);
CREATE INDEX approvals_subject ON approvals (kind, subject, created_at);
CREATE INDEX approvals_approver ON approvals (approver_party, state, created_at);
CREATE INDEX approvals_requester ON approvals (requester_party, state, created_at);
CREATE TABLE support_grants (
  id TEXT PRIMARY KEY,
  approval_id TEXT NOT NULL REFERENCES approvals(id),
  requester_party TEXT NOT NULL REFERENCES parties(id),
  requester_principal TEXT NOT NULL,
  engineer TEXT NOT NULL,
  environment_id TEXT NOT NULL REFERENCES environments(id),
  operator_id TEXT NOT NULL REFERENCES parties(id),
  lot_id TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  state TEXT NOT NULL,
  csr TEXT NOT NULL,
  cert_serial TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoked_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX support_grants_env ON support_grants (environment_id, state, not_after);
CREATE INDEX support_grants_lot ON support_grants (lot_id, state, not_after);
CREATE INDEX support_grants_serial ON support_grants (cert_serial);
CREATE TABLE support_grant_devices (
  grant_id TEXT NOT NULL REFERENCES support_grants(id),
  device_id TEXT NOT NULL REFERENCES devices(id),
  PRIMARY KEY (grant_id, device_id)
);
CREATE INDEX support_grant_devices_device ON support_grant_devices (device_id);
CREATE TABLE sod_rules (
  id TEXT PRIMARY KEY,
  a_stage TEXT NOT NULL,
  a_duty TEXT NOT NULL,
  b_stage TEXT NOT NULL,
  b_duty TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE principal_duties (
  principal_id TEXT NOT NULL REFERENCES principals(id),
  stage TEXT NOT NULL,
  duty TEXT NOT NULL,
  PRIMARY KEY (principal_id, stage, duty)
);
-- A person who issues identities does not audit them, in any stage; a person who asks for
-- support access does not approve it.
INSERT INTO sod_rules VALUES ('issue-audit-manufacturing', 'manufacturing', 'issue', 'manufacturing', 'audit', 'hallmark:migration', 0);
INSERT INTO sod_rules VALUES ('issue-audit-operational', 'operational', 'issue', 'operational', 'audit', 'hallmark:migration', 0);
INSERT INTO sod_rules VALUES ('issue-audit-support', 'support', 'issue', 'support', 'audit', 'hallmark:migration', 0);
INSERT INTO sod_rules VALUES ('request-approve-support', 'support', 'issue', 'support', 'approve', 'hallmark:migration', 0);
-- Approvals need an approve duty: parties created before it existed get it over themselves.
INSERT INTO ownership (stage, duty, scope_kind, scope_id, party_id, granted_by, granted_at)
  SELECT 'manufacturing', 'approve', 'manufacturer', id, id, 'hallmark:migration', 0 FROM parties WHERE kind = 'manufacturer'
  AND NOT EXISTS (SELECT 1 FROM ownership o WHERE o.stage = 'manufacturing' AND o.duty = 'approve' AND o.scope_kind = 'manufacturer' AND o.scope_id = parties.id);
INSERT INTO ownership (stage, duty, scope_kind, scope_id, party_id, granted_by, granted_at)
  SELECT 'operational', 'approve', 'operator', id, id, 'hallmark:migration', 0 FROM parties WHERE kind = 'operator'
  AND NOT EXISTS (SELECT 1 FROM ownership o WHERE o.stage = 'operational' AND o.duty = 'approve' AND o.scope_kind = 'operator' AND o.scope_id = parties.id);
INSERT INTO ownership (stage, duty, scope_kind, scope_id, party_id, granted_by, granted_at)
  SELECT 'support', 'issue', 'vendor', id, id, 'hallmark:migration', 0 FROM parties WHERE kind = 'support-vendor'
  AND NOT EXISTS (SELECT 1 FROM ownership o WHERE o.stage = 'support' AND o.duty = 'issue' AND o.scope_kind = 'vendor' AND o.scope_id = parties.id);
