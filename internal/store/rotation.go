package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
)

// Succession records CA rotations and root rollovers (ca/rotation.go) and the
// cross-certificates of rollovers (migration 0014_rotation.sql).
type Succession interface {
	// Standing reads what decides whether CA id may sign (retirement, successor, end of
	// overlap) without loading its certificate: the authority asks it twice per issuance.
	Standing(id string) (ca.Standing, error)
	// Succeed records that successor took over from CA id at `at`, id signing until `until`,
	// and moves every lot and environment that names id as its issuing CA to successor. It
	// returns how many lots and environments moved. ErrConflict when id already has a
	// successor (and nothing changes); ErrNotFound when id is unknown.
	Succeed(id, successor string, at, until time.Time) (lots, environments int64, err error)
	// CreateCrossCert records a cross-certificate; ErrConflict for a serial recorded already.
	CreateCrossCert(x ca.CrossCert) error
	// CrossCerts returns the cross-certificates that certify CA id's key or that id signed,
	// oldest first.
	CrossCerts(id string) ([]ca.CrossCert, error)
}

// AuditKey is one key of the audit log's checkpoint key history: the key provider ID and
// the public note verifier key ("<origin>+<hash>+<base64 key>"). The newest without RetiredAt
// is the one that signs.
type AuditKey struct {
	KeyID       string     `json:"key_id"`
	VerifierKey string     `json:"verifier_key"`
	CreatedAt   time.Time  `json:"created_at,omitzero"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
}

// KeyHistory keeps the keys that signed documents other than certificates, current and
// retired, so that every signature, old or new, finds its key.
type KeyHistory interface {
	// RotateSigningKey makes k the current key of (k.PartyID, k.Purpose) and keeps the key it
	// replaces, retired at k.CreatedAt. ErrNotFound when there is no current key to replace.
	RotateSigningKey(k ca.SigningKey) error
	// SigningKeys returns a party's keys of one purpose: the current key first, then the
	// retired ones, newest first. Empty (no error) when there are none.
	SigningKeys(partyID, purpose string) ([]ca.SigningKey, error)
	// AuditKeys returns the checkpoint keys, newest first; empty before the first rotation
	// (the key under auditlog.DefaultKeyID signs until then).
	AuditKeys() ([]AuditKey, error)
	// AddAuditKey makes k the current checkpoint key, retiring the current one at
	// k.CreatedAt. ErrConflict when k.KeyID is recorded already.
	AddAuditKey(k AuditKey) error
}
