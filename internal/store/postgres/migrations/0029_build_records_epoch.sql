-- The build-records epoch (issue 21): a counter that moves in the same transaction as every
-- change to build_records. The drift report is reused while nothing it reads changed
-- (internal/reports/driftmemo.go): Hallmark's own changes are all audited, so the audit tree's
-- size says so, but a record rewritten by hand in SQL is not; this trigger makes such a
-- record read (and its signature checked) again in the next report. Only updates and deletes
-- move it: Hallmark never changes a stored record, and every record it inserts (one per
-- factory certificate) comes with an audit event, so an insert trigger would only add a write
-- to every issuance. A record inserted by hand is read at the report's periodic full re-read.
INSERT INTO cache_epochs (name, epoch) VALUES ('build_records', 1);
CREATE FUNCTION bump_build_records_epoch() RETURNS trigger AS $$
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'build_records';
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER build_records_epoch AFTER UPDATE OR DELETE ON build_records
FOR EACH STATEMENT EXECUTE FUNCTION bump_build_records_epoch();
