-- A transfer stores how many devices it moves, so that reading or deciding it never counts or
-- loads its devices (a lot can hold a million). Existing transfers are counted once here.
ALTER TABLE transfers ADD COLUMN device_count INTEGER NOT NULL DEFAULT 0;
UPDATE transfers SET device_count = (SELECT COUNT(*) FROM transfer_items i WHERE i.transfer_id = transfers.id);
