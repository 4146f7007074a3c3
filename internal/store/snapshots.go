package store

import "time"

// ReportSnapshot is the console's reports for one party as the leader last computed them
// (internal/app/snapshots.go), so that the overview and reports pages need not scan the fleet
// on every request. Body is opaque to the store (JSON the console reads).
type ReportSnapshot struct {
	PartyID string
	// Part names what Body holds (the console's overview, or one report), so that a page
	// reads only its own part: a report over a large fleet lists many rows.
	Part       string
	ComputedAt time.Time
	// AuditSize is the audit log's size (its last sequence number) when it was computed.
	AuditSize uint64
	Body      []byte
}

// ReportSnapshots keeps the latest snapshot per party and part (migration
// 0027_report_snapshots.sql). Snapshots are derived data, not identity state: writing one is
// exempt from the audit rule, like a stored CRL.
type ReportSnapshots interface {
	// PutReportSnapshot replaces the party's snapshot of that part.
	PutReportSnapshot(s ReportSnapshot) error
	// LatestReportSnapshot returns the party's snapshot of part; ErrNotFound when there is none.
	LatestReportSnapshot(partyID, part string) (ReportSnapshot, error)
}
