// Package audit defines the audit event: who did what, in which stage, over which scope, to
// which subject. Events are appended in the same transaction as the change they record.
package audit

import (
	"encoding/json"
	"time"
)

// Event is one audit record.
type Event struct {
	Seq         int64           `json:"seq"`
	At          time.Time       `json:"at"`
	PartyID     string          `json:"party_id"`
	PrincipalID string          `json:"principal_id"`
	Action      string          `json:"action"` // dotted, e.g. "factory.issue", "custody.accept"
	Stage       string          `json:"stage,omitempty"`
	Scope       string          `json:"scope,omitempty"`   // e.g. "lot:lot_abc"
	Subject     string          `json:"subject,omitempty"` // e.g. "device:dev_abc"
	Detail      json.RawMessage `json:"detail,omitempty"`
}

// Actor is who acts.
type Actor struct {
	PartyID     string
	PrincipalID string
	Admin       bool
	// TokenID is the principal token the request authenticated with; "" for a sign-in
	// session (the party's own identity provider) and for actors the server makes itself.
	// Minting a token in a request authenticated by a hand-over token makes another
	// hand-over token (internal/governance, Handover).
	TokenID string
}

// Detail marshals d for Event.Detail; it panics only on values that cannot be JSON, which is a
// programming error.
func Detail(d any) json.RawMessage {
	b, err := json.Marshal(d)
	if err != nil {
		panic("audit: detail is not JSON: " + err.Error())
	}
	return b
}
