// Package ca defines certificate authorities as Hallmark records them and the certificates
// they issue. It holds no keys: a CA names its key by an ID that only internal/keys resolves.
//
// Invariants: an anchor has no key (it is another maker's root, registered to verify its
// devices); every issued certificate was reserved, with its to-be-signed bytes, before it was
// signed; a serial appears once per deployment.
package ca

import (
	"crypto/sha256"
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
	Cert      *x509.Certificate `json:"-"` // CertDER parsed; a store may share it between callers: read only
	CreatedAt time.Time         `json:"created_at"`
	// RetiredAt is when a whole-CA revocation retired the CA: it issues nothing after it.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	// CRLPartitions is P, the number of CRL partitions, fixed when the CA is created: the
	// certificates it issues are spread over P partition CRLs. 0 means unpartitioned: one
	// full CRL only (CAs created before partitioning, roots, anchors).
	CRLPartitions int `json:"crl_partitions"`
	// FactoryValidity is what notAfter a manufacturing issuing CA gives the factory
	// certificates it issues: FactoryValidityUndefined or FactoryValidityIssuer. Other CAs
	// issue none and hold "".
	FactoryValidity string `json:"factory_validity,omitempty"`
	// SuccessorID names the CA that succeeded this one (rotation.go); SucceededAt is when, and
	// IssuesUntil the end of the overlap after which this CA signs only what keeps its status
	// served. All three are empty until a rotation or rollover.
	SuccessorID string     `json:"successor_id,omitempty"`
	SucceededAt *time.Time `json:"succeeded_at,omitempty"`
	IssuesUntil *time.Time `json:"issues_until,omitempty"`
}

// The factory validities of a manufacturing issuing CA.
const (
	// FactoryValidityUndefined gives factory certificates IEEE 802.1AR's notAfter
	// 99991231235959Z, "no well-defined expiration date": the default of new hierarchies.
	FactoryValidityUndefined = "undefined"
	// FactoryValidityIssuer gives them the issuing CA's own notAfter, as every manufacturing
	// CA created before the setting existed does.
	FactoryValidityIssuer = "issuer"
)

// Bounds of CA.CRLPartitions for new issuing CAs: the default keeps every partition under
// 100,000 entries up to 1.6 million revoked, unexpired certificates.
const (
	DefaultCRLPartitions = 16
	MaxCRLPartitions     = 1024
)

// DevicePartition returns the CRL partition of the certificates of deviceID under a CA of p
// partitions (p > 0): SHA-256(deviceID), read as a big-endian integer, mod p. Every
// certificate of one device lands in the same partition.
func DevicePartition(deviceID string, p int) int {
	sum := sha256.Sum256([]byte(deviceID))
	return int(new(big.Int).Mod(new(big.Int).SetBytes(sum[:]), big.NewInt(int64(p))).Int64())
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
	// CRLPartition is the partition CRL that lists the certificate once revoked, fixed at
	// reservation (0 under an unpartitioned CA).
	CRLPartition int `json:"-"`
	// KeySHA256 is the SHA-256 of the certificate's SubjectPublicKeyInfo (DER), recorded at
	// reservation: the store finds by it every device a public key is bound to.
	KeySHA256 []byte `json:"-"`
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
	// RetiredAt is when a rotation replaced the key (nil for the current key). A retired key
	// signs nothing more; it stays in the key history so that what it signed still verifies.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
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
