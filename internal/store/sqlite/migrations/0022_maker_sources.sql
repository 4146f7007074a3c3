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
  last_attempt INTEGER NOT NULL,
  last_ok INTEGER,
  held_until INTEGER,
  failing_since INTEGER,
  PRIMARY KEY (maker_id, kind, url, issuer)
);
