package api

import "time"

// Refusal is one refusal audit event: the refusals of one caller, subject, reason and rule
// coalesced over a window (at most a minute), with how many there were.
type Refusal struct {
	Seq         int64     `json:"seq"` // the audit event's sequence number
	At          time.Time `json:"at"`
	PartyID     string    `json:"party_id,omitempty"`
	PrincipalID string    `json:"principal_id"`
	Scope       string    `json:"scope,omitempty"`   // e.g. environment:env_abc for EST
	Subject     string    `json:"subject,omitempty"` // e.g. device:dev_abc
	// Reason is not-owner, sod, policy, manifest, or a problem kind (denied, invalid, ...).
	Reason      string    `json:"reason"`
	Rule        string    `json:"rule,omitempty"` // e.g. ownership:operational/revoke, sod:R1, policy:onboarding/fw
	Count       int64     `json:"count"`
	FirstAt     time.Time `json:"first_at"`
	LastAt      time.Time `json:"last_at"`
	Via         string    `json:"via"` // api, est or brski (a voucher request from no registrar the MASA serves)
	Operation   string    `json:"operation,omitempty"`
	Certificate string    `json:"certificate,omitempty"` // the serial an EST client presented
	Message     string    `json:"message,omitempty"`
}

// ReasonCount totals refusals of one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// RefusalReport is GET /v1/reports/refusals: refusal events newest first and their counts
// by reason, for what the caller may see.
type RefusalReport struct {
	Since    time.Time     `json:"since"`
	ByReason []ReasonCount `json:"by_reason"`
	Items    []Refusal     `json:"items"`
}
