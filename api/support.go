package api

import "time"

// Grant is one support grant: a vendor engineer's time-bound access to devices of an
// environment, named or by lot.
type Grant struct {
	ID                 string    `json:"id"`
	ApprovalID         string    `json:"approval_id"`
	RequesterParty     string    `json:"requester_party"`
	RequesterPrincipal string    `json:"requester_principal"`
	Engineer           string    `json:"engineer"`
	EnvironmentID      string    `json:"environment_id"`
	OperatorID         string    `json:"operator_id"`
	LotID              string    `json:"lot_id,omitempty"`
	Devices            []string  `json:"devices,omitempty"`
	Reason             string    `json:"reason"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	// State is requested (waiting for approval), active (approved, its certificate issued),
	// denied (the approval was denied, expired or cancelled) or revoked (ended early).
	State      string     `json:"state"`
	CertSerial string     `json:"certificate_serial,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"`
}

// SupportRequest asks for a support grant (POST /v1/support/grants); it waits for the
// operator's approval and nothing is issued before.
type SupportRequest struct {
	EnvironmentID string   `json:"environment_id"`
	Devices       []string `json:"devices,omitempty"`
	LotID         string   `json:"lot_id,omitempty"`
	Reason        string   `json:"reason"`
	// NotBefore defaults to now; NotAfter is required. The window is at most the
	// environment's support_max_window.
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after"`
	// CSR is the engineer's PKCS#10 request (PEM): the key stays with the engineer.
	CSR string `json:"csr"`
	// Engineer names who holds the key (default: the requesting principal's name).
	Engineer string `json:"engineer,omitempty"`
}

// SupportGrant is a grant with its status as of now, its approval request and, once issued,
// its certificate and chain.
type SupportGrant struct {
	Grant
	// Status is the grant's State, or expired for an active grant past its NotAfter.
	Status         string    `json:"status"`
	Approval       *Approval `json:"approval,omitempty"`
	CertificatePEM string    `json:"certificate,omitempty"`
	ChainPEM       string    `json:"chain,omitempty"`
}

// RevokeGrantRequest ends a grant early (POST /v1/support/grants/{id}/revoke).
type RevokeGrantRequest struct {
	Reason string `json:"reason"` // an RFC 5280 reason name; default privilegeWithdrawn
}

// SupportCheckRequest asks whether a support certificate may reach a device now
// (POST /v1/support/check).
type SupportCheckRequest struct {
	Certificate string `json:"certificate"` // PEM
	DeviceID    string `json:"device_id"`
}

// Reach is the answer to "may this support certificate reach this device now?". A refusal
// is an answer, not an error: Allowed is false and Reason says why.
type Reach struct {
	Allowed  bool       `json:"allowed"`
	Reason   string     `json:"reason"`
	GrantID  string     `json:"grant_id,omitempty"`
	Engineer string     `json:"engineer,omitempty"`
	NotAfter *time.Time `json:"not_after,omitempty"`
}
