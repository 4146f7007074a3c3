-- Principal lineage (the independent-approver rule, internal/governance/independence.go): who
-- created each principal, kept after the principal is deleted. DeletePrincipal removes the
-- principals row, so without this a deleted principal broke the lineage of the principals it
-- made, and an administrator who made B, had B make C and then deleted B could have C approve
-- its own requests. The table is append-only: a trigger writes a row in the same transaction
-- as every insert into principals (by any writer, present or future, or by hand), nothing
-- deletes or updates one, and a principal id is never reused (the insert fails if it is).
CREATE TABLE principal_lineage (
  principal_id TEXT PRIMARY KEY,
  party_id TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
INSERT INTO principal_lineage (principal_id, party_id, created_by, created_at)
SELECT id, party_id, created_by, created_at FROM principals;
-- Principals deleted before this migration: their creator is the actor of their
-- principal.create audit event (subject principal:<id>, scope party:<party>), the first one
-- when there are several. One pass over the audit log, once.
INSERT OR IGNORE INTO principal_lineage (principal_id, party_id, created_by, created_at)
SELECT substr(subject, 11), CASE WHEN scope LIKE 'party:%' THEN substr(scope, 7) ELSE '' END, principal_id, at
FROM audit_events
WHERE action = 'principal.create' AND subject LIKE 'principal:_%'
ORDER BY seq;

CREATE TRIGGER principals_lineage AFTER INSERT ON principals
BEGIN
  INSERT INTO principal_lineage (principal_id, party_id, created_by, created_at)
  VALUES (NEW.id, NEW.party_id, NEW.created_by, NEW.created_at);
END;

CREATE TRIGGER principal_lineage_no_update BEFORE UPDATE ON principal_lineage
BEGIN
  SELECT RAISE(ABORT, 'principal_lineage is append-only');
END;

CREATE TRIGGER principal_lineage_no_delete BEFORE DELETE ON principal_lineage
BEGIN
  SELECT RAISE(ABORT, 'principal_lineage is append-only');
END;
