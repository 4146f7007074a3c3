-- devices_environment holds onboarded devices only (issue 21). A device made in the factory
-- has no environment (environment_id is '', NOT NULL DEFAULT '') until its onboarding, so
-- every factory issuance added an entry ('', random device id) on a random leaf page of this
-- index, which the group commit then wrote to the log. No query looks devices up by the empty
-- environment: each one that uses this index names a real environment (ListDevices with an
-- environment, the rotation reports and the operational report scope), and each says
-- environment_id <> '' in its SQL so that the planner can use this partial index (SQLite
-- uses a partial index only when the query's WHERE names its condition). The grouped counts
-- that include the empty environment (DeviceCounts, ExpiringCounts) walk other indexes.
DROP INDEX devices_environment;
CREATE INDEX devices_environment ON devices (environment_id, id) WHERE environment_id <> '';
