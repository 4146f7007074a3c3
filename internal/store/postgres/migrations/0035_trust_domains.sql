-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- SPIFFE trust domains owned per operator (docs/design.md, The operational stage).
--
-- The first operator whose environment names a trust domain claims it for good: later
-- environments of that operator may name it too, another operator's are refused (rule
-- environment:trust-domain-owned). A claim is never moved or released: a certificate issued in
-- the domain names it until it expires, and relying parties keep trusting the domain's name
-- after its environments stop issuing, so a domain handed to another operator would let it
-- issue identities those parties take for the first operator's.
--
-- A domain several operators' environments already share goes to the operator of the one
-- created first (by ID on a tie); the others keep working and the gaps report lists them
-- (kind trust-domain).
CREATE TABLE trust_domains (
  name TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL REFERENCES parties(id),
  environment_id TEXT NOT NULL REFERENCES environments(id),
  claimed_at BIGINT NOT NULL
);
INSERT INTO trust_domains (name, operator_id, environment_id, claimed_at)
SELECT e.trust_domain, e.operator_id, e.id, e.created_at FROM environments e
WHERE NOT EXISTS (SELECT 1 FROM environments f WHERE f.trust_domain = e.trust_domain AND (f.created_at < e.created_at OR (f.created_at = e.created_at AND f.id < e.id)));
