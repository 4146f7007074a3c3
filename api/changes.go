package api

import (
	"encoding/json"
	"time"
)

// ApprovalSeat is one quorum of a governance change: Approvals principals of Group ("*": any
// principal of the party other than the proposer), drawn from Members as they were when the
// change was proposed.
type ApprovalSeat struct {
	Group     string   `json:"group"`
	Approvals int      `json:"approvals"`
	Members   []string `json:"members,omitempty"`
}

// ChangeNeed is one quorum of a change rule: Approvals distinct principals of Group.
type ChangeNeed struct {
	Group     string `json:"group"`
	Approvals int    `json:"approvals"`
}

// ChangeRule is a party's rule for one kind of governance change: with an empty quorum a
// change applies at once; otherwise every need must be met.
type ChangeRule struct {
	PartyID string       `json:"party_id"`
	Kind    string       `json:"kind"`
	Quorum  []ChangeNeed `json:"quorum"`
	Expiry  string       `json:"expiry"`
	Stored  bool         `json:"stored"` // false: the built-in default
}

// SetChangeRuleRequest is the body of PUT /v1/parties/{id}/change-rules/{kind}.
type SetChangeRuleRequest struct {
	Quorum []ChangeNeed `json:"quorum"`
	Expiry string       `json:"expiry,omitempty"` // Go duration; 72h when empty
	Reason string       `json:"reason,omitempty"`
}

// ApproverGroup is a named set of a party's principals that change rules draw approvers from.
type ApproverGroup struct {
	PartyID string   `json:"party_id"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// SetApproverGroupRequest is the body of PUT /v1/parties/{id}/approver-groups/{name}.
type SetApproverGroupRequest struct {
	Members []string `json:"members"`
	Reason  string   `json:"reason,omitempty"`
}

// EnvironmentUpdate is the body of PATCH /v1/environments/{id}: the fields to change; absent
// fields keep their value.
type EnvironmentUpdate struct {
	Lifetime    string    `json:"lifetime,omitempty"` // Go duration
	MaxAge      string    `json:"max_age,omitempty"`  // Go duration
	Services    *[]string `json:"services,omitempty"`
	IssuingCAID string    `json:"issuing_ca_id,omitempty"`
	Reason      string    `json:"reason,omitempty"`
}

// WaiverRequest is the body of POST /v1/waivers.
type WaiverRequest struct {
	DeviceID string `json:"device_id"`
	Rule     string `json:"rule"` // the name of a rule of the device's environment's renewal policy
	Reason   string `json:"reason"`
	For      string `json:"for"` // Go duration, at most 2160h (90 days)
}

// Waiver is an approved, time-bound exception to one renewal policy rule for one device.
type Waiver struct {
	ID            string    `json:"id"`
	PartyID       string    `json:"party_id"`
	DeviceID      string    `json:"device_id"`
	EnvironmentID string    `json:"environment_id"`
	Rule          string    `json:"rule"`
	Reason        string    `json:"reason"`
	ApprovalID    string    `json:"approval_id"`
	RequestedBy   string    `json:"requested_by"`
	NotAfter      time.Time `json:"not_after"`
	CreatedAt     time.Time `json:"created_at"`
	Active        bool      `json:"active"`
}

// DryRunRequest is the body of POST /v1/environments/{id}/policies/{kind}/dry-run: a proposed
// policy (the body PUT .../policies/{kind} takes) and a page of the fleet.
type DryRunRequest struct {
	Policy json.RawMessage `json:"policy"`
	After  string          `json:"after,omitempty"` // the last device ID of the previous page
	Limit  int             `json:"limit,omitempty"` // devices evaluated per page; 500 when 0, at most 1000
}

// DryRunRefusal is one device the proposed policy would refuse at its next renewal.
type DryRunRefusal struct {
	DeviceID string          `json:"device_id"`
	Serial   string          `json:"serial"` // its current operational certificate
	Failed   []PolicyFailure `json:"failed"`
	Waived   []string        `json:"waived,omitempty"` // rules that deny but an active waiver covers
}

// DryRunResult is one page of a dry run.
type DryRunResult struct {
	EnvironmentID string          `json:"environment_id"`
	Kind          string          `json:"kind"`
	Evaluated     int             `json:"evaluated"` // active devices evaluated on this page
	Refused       []DryRunRefusal `json:"refused"`
	// Next is the After of the next page; empty when this was the last.
	Next string `json:"next,omitempty"`
}
