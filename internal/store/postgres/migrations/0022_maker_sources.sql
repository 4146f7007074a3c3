-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- The state of every revocation source of a maker that does not run Hallmark, as the status
-- watcher last found it (issue 15): the gaps report lists the sources that fail or hold no
-- fresh CRL, with since when, whichever replica answers it. Each round of the watcher replaces
-- the rows of the makers it checked.
CREATE TABLE maker_sources (
  maker_id TEXT NOT NULL REFERENCES makers(id),
  kind TEXT NOT NULL,
  url TEXT NOT NULL,
  issuer TEXT NOT NULL,
  outcome TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  last_attempt BIGINT NOT NULL,
  last_ok BIGINT,
  held_until BIGINT,
  failing_since BIGINT,
  PRIMARY KEY (maker_id, kind, url, issuer)
);
