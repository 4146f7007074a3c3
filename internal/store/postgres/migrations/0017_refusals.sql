-- PostgreSQL dialect of the SQLite migration of the same name; keep the two in step.
-- Governance that holds (issue 17): refusals are audit events of action 'refusal'. These
-- partial indexes let a device's history and the refusals report read them without scanning
-- the whole log; other events pay nothing for them.
CREATE INDEX audit_events_refusal_subject ON audit_events (subject, seq) WHERE action = 'refusal';
CREATE INDEX audit_events_refusal_party ON audit_events (party_id, seq) WHERE action = 'refusal';
