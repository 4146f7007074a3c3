-- A device's renewals, counted at every renewal (the renewal policy's operational.renewals)
-- and by the reports: the index holds only evidence of kind renew, so the count reads the
-- device's entries of this index alone, not every evidence row the device has. Before it,
-- each renewal read all of the device's evidence, facts included: one row more for every
-- renewal the device had made, on the writer's connection.
CREATE INDEX evidence_renewals ON evidence (device_id, created_at) WHERE kind = 'renew';
