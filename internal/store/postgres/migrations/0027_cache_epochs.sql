-- The governance epoch (issue 21): a counter that moves in the same transaction as every
-- change to what authentication, authorization and the catalog reads that factory issuance
-- caches depend on: parties, principals, their tokens and duty limits, the ownership matrix,
-- separation-of-duties rules, models, lots, CAs and signing keys. Each replica caches those
-- reads tagged with the epoch it read them under and drops them when the epoch moves
-- (internal/readcache). Triggers rather than the store's methods move it, so that no writer,
-- present or future, and no SQL run by hand, can change those tables and leave it behind.
-- Recording a use (last_used_at, written by TouchToken and TouchPrincipal outside any
-- audited transaction) is not a change and leaves the epoch alone.
CREATE TABLE cache_epochs (
  name TEXT PRIMARY KEY,
  epoch BIGINT NOT NULL
);
INSERT INTO cache_epochs (name, epoch) VALUES ('governance', 1);
CREATE FUNCTION bump_governance_epoch() RETURNS trigger AS $$
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER parties_epoch AFTER INSERT OR UPDATE OR DELETE ON parties
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER principals_epoch AFTER INSERT OR DELETE ON principals
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER principals_epoch_update AFTER UPDATE ON principals
FOR EACH ROW WHEN (OLD.last_used_at IS NOT DISTINCT FROM NEW.last_used_at) EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER principal_tokens_epoch AFTER INSERT OR DELETE ON principal_tokens
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER principal_tokens_epoch_update AFTER UPDATE ON principal_tokens
FOR EACH ROW WHEN (OLD.last_used_at IS NOT DISTINCT FROM NEW.last_used_at) EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER principal_duties_epoch AFTER INSERT OR UPDATE OR DELETE ON principal_duties
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER ownership_epoch AFTER INSERT OR UPDATE OR DELETE ON ownership
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER sod_rules_epoch AFTER INSERT OR UPDATE OR DELETE ON sod_rules
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER models_epoch AFTER INSERT OR UPDATE OR DELETE ON models
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER lots_epoch AFTER INSERT OR UPDATE OR DELETE ON lots
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER cas_epoch AFTER INSERT OR UPDATE OR DELETE ON cas
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
CREATE TRIGGER signing_keys_epoch AFTER INSERT OR UPDATE OR DELETE ON signing_keys
FOR EACH ROW EXECUTE FUNCTION bump_governance_epoch();
