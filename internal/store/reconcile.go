package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
)

// CertStateRow is the state of one certificate row, as the audit log's reconciliation
// (internal/auditlog, reconcile.go) compares it with the log.
type CertStateRow struct {
	SerialHex string
	CAID      string
	DeviceID  string
	Profile   string
	State     ca.CertState
	Reason    *int // the RFC 5280 reason code of a revoked certificate
}

// StateRows reads state rows in bulk for reconciliation.
type StateRows interface {
	// CertStates returns up to limit (1-1000; otherwise 1000) certificate rows whose serial
	// (hex) sorts after after, ordered by serial.
	CertStates(after string, limit int) ([]CertStateRow, error)
	// Disputes returns every recorded disputed certificate (migration 0024), by serial.
	Disputes() ([]Dispute, error)
	// SetDisputes records a reconciliation's result: with full, disputes replace every
	// recorded one; otherwise the serials in cleared are deleted first and disputes added (or
	// replaced).
	SetDisputes(full bool, cleared []string, disputes []Dispute) error
}

// Dispute is a certificate whose row disagreed with the audit log at a reconciliation.
type Dispute struct {
	Serial  string    `json:"serial"`
	Row     string    `json:"row"`
	Log     string    `json:"log"`
	Seq     int64     `json:"seq,omitempty"`
	FoundAt time.Time `json:"found_at"`
}
