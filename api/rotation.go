package api

import "time"

// CA rotation and root rollover, and the key histories of build-record and audit checkpoint
// keys (docs/rotation.md).

// RotateCARequest asks to replace a CA (POST /v1/cas/{id}/rotate and /v1/cas/{id}/rollover;
// the body may be left out). Name is the successor's, a slug ("" names it "<name>-<n>");
// Overlap is how long the old CA goes on signing, a Go duration from "0s" to "168h" ("" takes
// the server's 1h).
type RotateCARequest struct {
	Name    string `json:"name,omitempty"`
	Overlap string `json:"overlap,omitempty"`
}

// Succession is the outcome of a rotation or rollover: the CA replaced, its successor, the
// lots and environments that moved to the successor (always 0 for a root), and a rollover's
// two cross-certificates (new-with-old, then old-with-new).
type Succession struct {
	Predecessor       CA          `json:"predecessor"`
	Successor         CA          `json:"successor"`
	LotsMoved         int64       `json:"lots_moved"`
	EnvironmentsMoved int64       `json:"environments_moved"`
	CrossCertificates []CrossCert `json:"cross_certificates,omitempty"`
}

// CrossCert is a cross-certificate of a root rollover: the key of CA SubjectCAID certified
// by CA IssuerCAID.
type CrossCert struct {
	Serial         string    `json:"serial"` // hexadecimal, as the issuer's certificates list it
	SubjectCAID    string    `json:"subject_ca_id"`
	IssuerCAID     string    `json:"issuer_ca_id"`
	CreatedAt      time.Time `json:"created_at"`
	CertificatePEM string    `json:"certificate_pem"`
}

// BuildRecordKey is one of a manufacturer's build-record signing keys
// (POST /v1/manufacturers/{id}/build-record-key/rotate answers with the new one).
type BuildRecordKey struct {
	ID      string `json:"id"`
	PartyID string `json:"party_id"`
	Purpose string `json:"purpose"` // "build-record"
	KeyID   string `json:"key_id"`  // the key provider's ID
	// DSSEKeyID is the keyid its build record signatures carry.
	DSSEKeyID    string    `json:"keyid"`
	PublicKeyPEM string    `json:"public_key_pem"`
	CreatedAt    time.Time `json:"created_at"`
	// RetiredAt is when a rotation replaced the key; absent for the current key.
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// AuditKey is one key of the audit log's checkpoint key history
// (POST /v1/audit/key/rotate answers with the new one): the key provider's ID and the note
// verifier key ("<origin>+<hash>+<base64 key>").
type AuditKey struct {
	KeyID       string `json:"key_id"`
	VerifierKey string `json:"verifier_key"`
	// CreatedAt is absent for the key that signed before the history began.
	CreatedAt time.Time  `json:"created_at,omitzero"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// CAExpiryReport lists the CAs the caller may see, soonest end first
// (GET /v1/reports/ca-expiry). Warnings counts the CAs in service with a warning: those that
// need a successor.
type CAExpiryReport struct {
	GeneratedAt time.Time  `json:"generated_at"`
	Items       []CAExpiry `json:"items"`
	Warnings    int        `json:"warnings"`
}

// CAExpiry is one CA's certificate end and where the CA is in its life.
type CAExpiry struct {
	CAID    string `json:"ca_id"`
	Name    string `json:"name"`
	PartyID string `json:"party_id"`
	Stage   string `json:"stage"` // manufacturing, operational or support
	Role    string `json:"role"`  // root, issuing or anchor
	// Status is active, overlap (succeeded, still signing), succeeded, retired, expired or
	// anchor.
	Status    string    `json:"status"`
	NotAfter  time.Time `json:"not_after"`
	Remaining Duration  `json:"remaining"` // negative once expired
	// Warning is 90d, 30d, 7d or expired; absent when the end is more than 90 days away.
	Warning     string `json:"warning,omitempty"`
	SuccessorID string `json:"successor_id,omitempty"`
}

// CAExpiryGap is a CA in service (not succeeded, not retired) that ends within 90 days, or
// has ended, without a successor: a governance gap (GapsReport.CAExpiry).
type CAExpiryGap struct {
	CAExpiry
	Why string `json:"why"`
}
