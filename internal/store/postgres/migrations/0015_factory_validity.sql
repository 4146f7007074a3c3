-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
ALTER TABLE cas ADD COLUMN factory_validity TEXT NOT NULL DEFAULT '';
UPDATE cas SET factory_validity = 'issuer' WHERE stage = 'manufacturing' AND role = 'issuing';
