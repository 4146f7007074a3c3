package store

import "github.com/hallmark-id/hallmark/internal/ca"

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
}
