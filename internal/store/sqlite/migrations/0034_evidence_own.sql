-- An admission is read from a device's own evidence: evidence of that device, found by device
-- and serial, never by the serial alone (the admissions report, store.Reports.Admissions), as
-- every path reads a device's certificates as its own (store.OwnCert). This index answers that
-- lookup alone: the report's check of a device's current certificate's evidence reads no
-- evidence row (EXPLAIN QUERY PLAN: COVERING INDEX evidence_own). It is UNIQUE, which it is
-- anyway (serial is the primary key), because SQLite prefers a unique index on an equality
-- lookup: without it, the lookup went through the primary key and read the row.
CREATE UNIQUE INDEX evidence_own ON evidence (device_id, serial);
