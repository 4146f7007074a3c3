-- A party's device list (DeviceFilter.VisibleTo: the devices it made or holds) walks two
-- indexes in id order, one per role, and merges their first pages (issue 19: the console's
-- inventory at 1,000,000 devices). devices_custodian is (custodian_id, id); this is the
-- manufacturer's side.
CREATE INDEX devices_manufacturer ON devices (manufacturer_id, id);
