// Package environment defines an operator's deployed context (site, zone) with the policies
// and limits its devices' operational identities are issued under. Pure: no I/O, no clock.
//
// Invariants: a policy is never edited, only superseded by a higher version; every decision
// records the version it used; an environment's certificate lifetime never exceeds its
// maximum rotation age.
package environment

import (
	"encoding/json"
	"time"
)

// Environment is one operator environment.
type Environment struct {
	ID          string   `json:"id"`
	OperatorID  string   `json:"operator_id"`
	Name        string   `json:"name"`
	Site        string   `json:"site,omitempty"`
	Zone        string   `json:"zone,omitempty"`
	IssuingCAID string   `json:"issuing_ca_id"`
	TrustDomain string   `json:"trust_domain"`
	Lifetime    Duration `json:"lifetime"`
	MaxAge      Duration `json:"max_age"`
	Services    []string `json:"services"`
	// SupportMaxWindow is the longest support grant window allowed in this environment.
	SupportMaxWindow Duration  `json:"support_max_window"`
	CreatedAt        time.Time `json:"created_at"`
}

// Duration is a time.Duration shown in JSON as a Go duration string ("24h0m0s").
type Duration time.Duration

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// PolicyKind says which decision a policy governs.
type PolicyKind string

// Policy kinds.
const (
	Onboarding PolicyKind = "onboarding"
	Renewal    PolicyKind = "renewal"
)

// PolicyVersion is one stored version of an environment's policy.
type PolicyVersion struct {
	EnvironmentID string          `json:"environment_id"`
	Kind          PolicyKind      `json:"kind"`
	Version       int             `json:"version"`
	Spec          json.RawMessage `json:"spec"`
	CreatedBy     string          `json:"created_by"`
	CreatedAt     time.Time       `json:"created_at"`
}

// Evidence is what an operational certificate was issued on.
type Evidence struct {
	Serial        string `json:"serial"`
	DeviceID      string `json:"device_id"`
	EnvironmentID string `json:"environment_id"`
	Kind          string `json:"kind"`     // onboard or renew
	BasedOn       string `json:"based_on"` // the certificate (serial) presented as proof
	// Superseded is the operational certificate this one replaced and revoked, if any.
	Superseded    string          `json:"superseded,omitempty"`
	FactorySerial string          `json:"factory_serial"`
	Protocol      string          `json:"protocol"` // api or est
	PolicyKind    PolicyKind      `json:"policy_kind"`
	PolicyVersion int             `json:"policy_version"`
	PrincipalID   string          `json:"principal_id"`
	Facts         json.RawMessage `json:"facts,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
}

// TrustDomainClaim is an operator's claim on a SPIFFE trust domain: the first operator whose
// environment named the domain holds it, for good. Environments of that operator may name it;
// another operator's may not (an environment from before claims may, and is a gap).
type TrustDomainClaim struct {
	Name       string `json:"name"`
	OperatorID string `json:"operator_id"`
	// EnvironmentID is the environment whose creation claimed the domain.
	EnvironmentID string    `json:"environment_id"`
	ClaimedAt     time.Time `json:"claimed_at"`
}
