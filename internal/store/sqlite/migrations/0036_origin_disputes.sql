-- The origins of makers' devices that the last full reconciliation (internal/auditlog,
-- reconcile.go) found in disagreement with the audit log: the maker, the factory certificate
-- or the factory state the row says is not what the events that wrote it say. Onboarding
-- refuses such a device (rule origin:disputed) until a full reconciliation finds its origin in
-- agreement again, which deletes the row.
CREATE TABLE origin_disputes (
  device_id TEXT PRIMARY KEY,
  row_state TEXT NOT NULL,
  log_state TEXT NOT NULL,
  seq       BIGINT NOT NULL,
  found_at  BIGINT NOT NULL
);
