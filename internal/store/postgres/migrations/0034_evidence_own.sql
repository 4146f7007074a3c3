-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step. The
-- admissions report checks a device's current certificate's evidence by device and serial
-- with an index-only scan of this index (EXPLAIN: Index Only Scan using evidence_own).
CREATE UNIQUE INDEX evidence_own ON evidence (device_id, serial);
