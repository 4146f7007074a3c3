// Package ca defines certificate authorities as Hallmark records them and the certificates
// they issue. It holds no keys: a CA names its key by an ID that only internal/keys resolves.
//
// Invariants: an anchor has no key (it is another maker's root, registered to verify its
// devices); every issued certificate was reserved, with its to-be-signed bytes, before it was
// signed; a serial appears once per deployment.
package ca

import (
	"crypto/x509"
	"math/big"
	"time"
)

// Role is a CA's place in a hierarchy.
type Role string

// Roles.
const (
	Root    Role = "root"
	Issuing Role = "issuing"
	Anchor  Role = "anchor" // a trust anchor of a maker that does not run Hallmark: certificate only
)

// CA is one certificate authority.
type CA struct {
	ID        string            `json:"id"`
	PartyID   string            `json:"party_id"`
	Stage     string            `json:"stage"` // manufacturing, operational or support
	Role      Role              `json:"role"`
	ParentID  string            `json:"parent_id,omitempty"`
	Name      string            `json:"name"`
	KeyID     string            `json:"key_id,omitempty"` // empty for anchors
	Imported  bool              `json:"imported"`
	CertDER   []byte            `json:"-"`
	Cert      *x509.Certificate `json:"-"`
	CreatedAt time.Time         `json:"created_at"`
}

// CertState is the state of a certificate record.
type CertState string

// Certificate states.
const (
	Reserved CertState = "reserved" // serial and TBS recorded, not (yet) signed
	Issued   CertState = "issued"
	Revoked  CertState = "revoked"
)

// Cert is a certificate Hallmark issued (or reserved the serial of).
type Cert struct {
	Serial    *big.Int   `json:"-"`
	SerialHex string     `json:"serial"`
	CAID      string     `json:"ca_id"`
	DeviceID  string     `json:"device_id,omitempty"`
	Profile   string     `json:"profile"`
	State     CertState  `json:"state"`
	TBS       []byte     `json:"-"`
	DER       []byte     `json:"-"`
	NotBefore time.Time  `json:"not_before"`
	NotAfter  time.Time  `json:"not_after"`
	CreatedAt time.Time  `json:"created_at"`
	IssuedAt  *time.Time `json:"issued_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Reason    *int       `json:"revocation_reason,omitempty"`
}

// SerialHex renders a serial the way Hallmark names certificates: lowercase hex, no colons.
func SerialHex(n *big.Int) string { return n.Text(16) }

// SigningKey is a party's key for signing documents other than certificates (build records).
type SigningKey struct {
	ID           string    `json:"id"`
	PartyID      string    `json:"party_id"`
	Purpose      string    `json:"purpose"`
	KeyID        string    `json:"key_id"`
	PublicKeyDER []byte    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// ParseSerialHex reads a serial written by SerialHex.
func ParseSerialHex(s string) (*big.Int, bool) {
	if s == "" {
		return nil, false
	}
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 {
		return nil, false
	}
	return n, true
}
