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

CREATE TRIGGER parties_epoch_insert AFTER INSERT ON parties
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER parties_epoch_update AFTER UPDATE ON parties
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER parties_epoch_delete AFTER DELETE ON parties
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principals_epoch_insert AFTER INSERT ON principals
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principals_epoch_update AFTER UPDATE ON principals
WHEN OLD.last_used_at IS NEW.last_used_at
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principals_epoch_delete AFTER DELETE ON principals
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principal_tokens_epoch_insert AFTER INSERT ON principal_tokens
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principal_tokens_epoch_update AFTER UPDATE ON principal_tokens
WHEN OLD.last_used_at IS NEW.last_used_at
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principal_tokens_epoch_delete AFTER DELETE ON principal_tokens
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principal_duties_epoch_insert AFTER INSERT ON principal_duties
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principal_duties_epoch_update AFTER UPDATE ON principal_duties
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER principal_duties_epoch_delete AFTER DELETE ON principal_duties
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER ownership_epoch_insert AFTER INSERT ON ownership
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER ownership_epoch_update AFTER UPDATE ON ownership
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER ownership_epoch_delete AFTER DELETE ON ownership
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER sod_rules_epoch_insert AFTER INSERT ON sod_rules
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER sod_rules_epoch_update AFTER UPDATE ON sod_rules
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER sod_rules_epoch_delete AFTER DELETE ON sod_rules
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER models_epoch_insert AFTER INSERT ON models
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER models_epoch_update AFTER UPDATE ON models
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER models_epoch_delete AFTER DELETE ON models
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER lots_epoch_insert AFTER INSERT ON lots
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER lots_epoch_update AFTER UPDATE ON lots
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER lots_epoch_delete AFTER DELETE ON lots
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER cas_epoch_insert AFTER INSERT ON cas
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER cas_epoch_update AFTER UPDATE ON cas
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER cas_epoch_delete AFTER DELETE ON cas
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER signing_keys_epoch_insert AFTER INSERT ON signing_keys
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER signing_keys_epoch_update AFTER UPDATE ON signing_keys
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER signing_keys_epoch_delete AFTER DELETE ON signing_keys
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;
