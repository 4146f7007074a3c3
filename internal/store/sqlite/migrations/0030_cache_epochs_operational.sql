-- The governance epoch (migration 0027) also covers what EST enrollment and renewal read on
-- every request and that changes rarely (issue 21): environments, their EST labels, their
-- versioned policies, waivers, and the retired build-record and other signing keys that a
-- key history (KeyHistory.SigningKeys) returns with the current one. The cache of each
-- replica (internal/readcache) keeps those reads under the epoch and drops them when it
-- moves. None of these tables has a column written per request, so every change moves it.
CREATE TRIGGER environments_epoch_insert AFTER INSERT ON environments
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER environments_epoch_update AFTER UPDATE ON environments
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER environments_epoch_delete AFTER DELETE ON environments
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER est_labels_epoch_insert AFTER INSERT ON est_labels
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER est_labels_epoch_update AFTER UPDATE ON est_labels
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER est_labels_epoch_delete AFTER DELETE ON est_labels
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER policies_epoch_insert AFTER INSERT ON policies
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER policies_epoch_update AFTER UPDATE ON policies
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER policies_epoch_delete AFTER DELETE ON policies
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER waivers_epoch_insert AFTER INSERT ON waivers
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER waivers_epoch_update AFTER UPDATE ON waivers
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER waivers_epoch_delete AFTER DELETE ON waivers
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER retired_signing_keys_epoch_insert AFTER INSERT ON retired_signing_keys
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER retired_signing_keys_epoch_update AFTER UPDATE ON retired_signing_keys
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;

CREATE TRIGGER retired_signing_keys_epoch_delete AFTER DELETE ON retired_signing_keys
BEGIN
  UPDATE cache_epochs SET epoch = epoch + 1 WHERE name = 'governance';
END;
