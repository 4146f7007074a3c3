-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
DROP INDEX devices_environment;
CREATE INDEX devices_environment ON devices (environment_id, id) WHERE environment_id <> '';
