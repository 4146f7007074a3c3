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
