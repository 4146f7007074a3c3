-- The covering index of CRL building holds revoked certificates only (issue 21). As
-- certificates_status (ca_id, state, crl_partition, serial, ...) it had an entry for every
-- certificate, which every issuance wrote twice on a random leaf page of the index (the
-- reservation inserted it under 'reserved', signing moved it to 'issued'), for a query that
-- reads only state = 'revoked' (EachRevoked, EachRevokedInPartition: the SQL names the state
-- as a literal, so that the planner can use this partial index). A full CRL and a partition's
-- are still one range scan without table lookups (state is the last column so that the scan
-- need not read the row to check it: EXPLAIN QUERY PLAN says COVERING INDEX).
CREATE INDEX certificates_revoked ON certificates (ca_id, crl_partition, serial, revoked_at, reason, not_after, state) WHERE state = 'revoked';
DROP INDEX certificates_status;
