-- State the audit log can vouch for (issue 17, point 6): the certificates whose rows the last
-- reconciliation (internal/auditlog, reconcile.go) found in disagreement with the audit log.
-- Every replica reads them into the set its OCSP responder answers tryLater for; a
-- reconciliation that finds them in agreement again deletes them.
CREATE TABLE audit_disputes (
  serial    TEXT PRIMARY KEY,
  row_state TEXT NOT NULL,
  log_state TEXT NOT NULL,
  seq       BIGINT NOT NULL,
  found_at  BIGINT NOT NULL
);
