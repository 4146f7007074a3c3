package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
)

// RefusalAction is the audit action of a refusal event (internal/refusals).
const RefusalAction = "refusal"

// RefusalFilter selects refusal events; zero fields match everything.
type RefusalFilter struct {
	PartyID string    // events whose party_id is this (the refused caller's party)
	Subject string    // events about this subject, e.g. "device:dev_abc"
	Since   time.Time // events at or after this instant
	Limit   int       // 1-1000; otherwise 1000
}

// Refusals reads the refusal events of the audit log (they are appended with AuditLog.Append,
// action RefusalAction), through indexes over that action alone (migration 0017_refusals.sql).
type Refusals interface {
	// ListRefusals returns matching refusal events, newest first.
	ListRefusals(f RefusalFilter) ([]audit.Event, error)
}
