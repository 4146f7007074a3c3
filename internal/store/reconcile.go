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
	// OriginStates returns up to limit (1-1000; otherwise 1000) origin rows of makers'
	// devices, revoked ones included, whose device ID sorts after after, ordered by device ID.
	OriginStates(after string, limit int) ([]OriginStateRow, error)
	// OriginState returns one device's origin row; ErrNotFound when it has none.
	OriginState(deviceID string) (OriginStateRow, error)
	// OriginDisputes returns every recorded disputed origin (migration 0036), by device ID.
	OriginDisputes() ([]OriginDispute, error)
	// SetOriginDisputes replaces the recorded disputed origins with disputes: only a full
	// reconciliation compares origins, so its result is the whole set.
	SetOriginDisputes(disputes []OriginDispute) error
	// OriginDisputed reports whether device's origin is among the recorded disputed ones.
	OriginDisputed(deviceID string) (bool, error)
}

// OriginDispute is a maker's device whose origin row disagreed with the audit log at a full
// reconciliation.
type OriginDispute struct {
	DeviceID string    `json:"device_id"`
	Row      string    `json:"row"`
	Log      string    `json:"log"`
	Seq      int64     `json:"seq,omitempty"`
	FoundAt  time.Time `json:"found_at"`
}

// OriginStateRow is the origin row of a maker's device (internal/maker.Origin), as the audit
// log's reconciliation compares it with the log: which maker made the device, which factory
// certificate its origin holds, and whether the maker revoked it.
type OriginStateRow struct {
	DeviceID      string
	MakerID       string
	FactorySerial string   // hex
	FactorySHA256 [32]byte // of the factory certificate's DER
	State         string   // the factory state: maker.Good or maker.Revoked, as the row says
}

// Dispute is a certificate whose row disagreed with the audit log at a reconciliation.
type Dispute struct {
	Serial  string    `json:"serial"`
	Row     string    `json:"row"`
	Log     string    `json:"log"`
	Seq     int64     `json:"seq,omitempty"`
	FoundAt time.Time `json:"found_at"`
}
