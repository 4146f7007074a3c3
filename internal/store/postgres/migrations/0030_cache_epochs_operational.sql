-- The governance epoch (migration 0027) also covers what EST enrollment and renewal read on
-- every request and that changes rarely (issue 21): environments, their EST labels, their
-- versioned policies, waivers, and the retired build-record and other signing keys that a
-- key history (KeyHistory.SigningKeys) returns with the current one. The cache of each
-- replica (internal/readcache) keeps those reads under the epoch and drops them when it
-- moves. None of these tables has a column written per request, so every change moves it.
CREATE TRIGGER environments_epoch AFTER INSERT OR UPDATE OR DELETE ON environments
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER est_labels_epoch AFTER INSERT OR UPDATE OR DELETE ON est_labels
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER policies_epoch AFTER INSERT OR UPDATE OR DELETE ON policies
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER waivers_epoch AFTER INSERT OR UPDATE OR DELETE ON waivers
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER retired_signing_keys_epoch AFTER INSERT OR UPDATE OR DELETE ON retired_signing_keys
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
