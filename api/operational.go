package api

import (
	"encoding/json"
	"time"
)

// Environment is one operator environment: where devices are onboarded into operational
// identities.
type Environment struct {
	ID          string   `json:"id"`
	OperatorID  string   `json:"operator_id"`
	Name        string   `json:"name"`
	Site        string   `json:"site,omitempty"`
	Zone        string   `json:"zone,omitempty"`
	IssuingCAID string   `json:"issuing_ca_id"`
	TrustDomain string   `json:"trust_domain"`
	Lifetime    Duration `json:"lifetime"` // of each operational certificate
	// MaxAge is the longest a device may renew before it must onboard again.
	MaxAge   Duration `json:"max_age"`
	Services []string `json:"services"`
	// SupportMaxWindow is the longest support grant window allowed in this environment.
	SupportMaxWindow Duration  `json:"support_max_window"`
	CreatedAt        time.Time `json:"created_at"`
}

// EnvironmentView is an environment with its current onboarding and renewal policies.
type EnvironmentView struct {
	Environment
	Onboarding PolicyVersion `json:"onboarding_policy"`
	Renewal    PolicyVersion `json:"renewal_policy"`
	// ESTLabel is the label EST clients reach the environment at: its name when it was the
	// first environment to claim that name as an EST label, else its ID (another operator's
	// environment holds the name; see docs/est.md).
	ESTLabel string `json:"est_label"`
}

// The kinds of environment policy: PUT /v1/environments/{id}/policies/{kind}.
const (
	PolicyOnboarding = "onboarding"
	PolicyRenewal    = "renewal"
)

// PolicyVersion is one stored version of an environment's policy.
type PolicyVersion struct {
	EnvironmentID string          `json:"environment_id"`
	Kind          string          `json:"kind"` // PolicyOnboarding or PolicyRenewal
	Version       int             `json:"version"`
	Spec          json.RawMessage `json:"spec"` // the policy document (docs/policies.md)
	CreatedBy     string          `json:"created_by"`
	CreatedAt     time.Time       `json:"created_at"`
}

// PolicyVersionList is the stored versions of one policy of an environment, newest first
// (GET /v1/environments/{id}/policies/{kind}; at most 200).
type PolicyVersionList struct {
	Items []PolicyVersion `json:"items"`
}

// CreateEnvironmentRequest defines an environment (POST /v1/environments). Lifetime, MaxAge
// and SupportMaxWindow are Go durations ("24h"); a missing policy gets the default.
type CreateEnvironmentRequest struct {
	OperatorID  string   `json:"operator_id"`
	Name        string   `json:"name"`
	Site        string   `json:"site,omitempty"`
	Zone        string   `json:"zone,omitempty"`
	IssuingCAID string   `json:"issuing_ca_id"`
	TrustDomain string   `json:"trust_domain"`
	Lifetime    string   `json:"lifetime"`
	MaxAge      string   `json:"max_age"`
	Services    []string `json:"services,omitempty"`
	// SupportMaxWindow bounds support grants in this environment (default 8h, at most 7 days).
	SupportMaxWindow string          `json:"support_max_window,omitempty"`
	Onboarding       json.RawMessage `json:"onboarding_policy,omitempty"`
	Renewal          json.RawMessage `json:"renewal_policy,omitempty"`
}

// RevokeRequest revokes a device's operational identity after a runtime compromise and
// quarantines the device (POST /v1/devices/{id}/revoke).
type RevokeRequest struct {
	Reason string `json:"reason"` // an RFC 5280 reason name, e.g. keyCompromise
}

// ReadmitRequest asks to trust a quarantined or suspended device again
// (POST /v1/devices/{id}/readmit).
type ReadmitRequest struct {
	Reason string `json:"reason"`
}

// ReadmitResult is the device as it is now and the approval request its re-admission waits
// for.
type ReadmitResult struct {
	Device   Device    `json:"device"`
	Approval *Approval `json:"approval,omitempty"`
}

// ReoriginRequest asks to make a maker's re-issued factory certificate the current one of a
// maker's device (POST /v1/devices/{id}/origin).
type ReoriginRequest struct {
	// Certificate is the new factory certificate, optionally followed by its chain, PEM.
	Certificate string `json:"certificate"`
	// Reason is why the maker re-issued it, for the approvers and the audit log.
	Reason string `json:"reason"`
}

// ReoriginResult is the device and the approval request the reorigin waits for.
type ReoriginResult struct {
	Device   Device    `json:"device"`
	Approval *Approval `json:"approval,omitempty"`
}

// FactorySelector picks factory certificates for a manufacturing revocation; zero fields
// match everything of the manufacturer.
type FactorySelector struct {
	ManufacturerID string    `json:"manufacturer_id"`
	DeviceID       string    `json:"device_id,omitempty"`
	LotID          string    `json:"lot_id,omitempty"`
	Line           string    `json:"line,omitempty"`
	IssuingCAID    string    `json:"issuing_ca_id,omitempty"`
	IssuedFrom     time.Time `json:"issued_from,omitzero"`
	IssuedTo       time.Time `json:"issued_to,omitzero"`
}

// FactoryRevokeRequest revokes factory identities selected by device, lot, line, time window
// or issuing CA (POST /v1/manufacturing/revocations). DryRun defaults to true: without
// "dry_run": false nothing changes.
type FactoryRevokeRequest struct {
	Selector FactorySelector `json:"selector"`
	Reason   string          `json:"reason"` // an RFC 5280 reason name
	DryRun   *bool           `json:"dry_run,omitempty"`
	// Why is the justification an approval request shows its approvers (whole-CA revocations).
	Why string `json:"why,omitempty"`
	// Limit, in a dry run, lists at most Limit factory identities and at most Limit
	// suspensions per environment (1 to 10,000); the counts stay whole. 0 lists every one.
	// Refused when dry_run is false.
	Limit int `json:"limit,omitempty"`
}

// FactoryRevokeResult lists what a manufacturing revocation did or, in a dry run, would do.
type FactoryRevokeResult struct {
	DryRun    bool          `json:"dry_run"`
	RunID     string        `json:"run_id,omitempty"`
	Reason    string        `json:"reason"`
	Factory   []FactoryCert `json:"factory"`   // factory identities revoked (or to be)
	Suspended []Suspension  `json:"suspended"` // operational identities suspended (or to be)
	Skipped   int           `json:"already_revoked"`
	// Counts are whole: with a dry run's limit, Factory and Suspended list only the first.
	Counts RevokeCounts `json:"counts"`
	// Approval is the request a whole-CA revocation waits for; nothing was revoked yet.
	Approval *Approval `json:"approval,omitempty"`
}

// RevokeCounts is how many factory identities a manufacturing revocation revoked (or would)
// and how many operational identities it suspended (or would), in all and per environment.
type RevokeCounts struct {
	Factory      int                `json:"factory"`
	Suspended    int                `json:"suspended"`
	Environments []EnvironmentCount `json:"environments"` // by environment ID; only those with suspensions
}

// EnvironmentCount is how many operational identities of one environment a revocation suspends.
type EnvironmentCount struct {
	EnvironmentID string `json:"environment_id"`
	Suspended     int    `json:"suspended"`
}

// FactoryCert is a selected factory certificate with its device.
type FactoryCert struct {
	Serial   string `json:"serial"`
	DeviceID string `json:"device_id"`
	LotID    string `json:"lot_id"`
	State    string `json:"state"` // as Certificate.State
}

// Suspension is an operational identity issued on an affected factory identity.
type Suspension struct {
	DeviceID    string `json:"device_id"`
	Serial      string `json:"serial"`
	Environment string `json:"environment_id"`
}

// RevocationCascade is a manufacturing revocation run with the certificates it revoked or
// suspended (GET /v1/manufacturing/revocations/{id}).
type RevocationCascade struct {
	Items []CascadeItem `json:"items"`
	Run   RevocationRun `json:"run"`
}

// RevocationRun is one manufacturing revocation.
type RevocationRun struct {
	ID             string          `json:"id"`
	ManufacturerID string          `json:"manufacturer_id"`
	Selector       FactorySelector `json:"selector"`
	Reason         int             `json:"reason"` // the RFC 5280 CRLReason code
	RequestedBy    string          `json:"requested_by"`
	CreatedAt      time.Time       `json:"created_at"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
}

// CascadeItem is one certificate a run revoked or suspended.
type CascadeItem struct {
	RunID    string    `json:"run_id"`
	Serial   string    `json:"serial"`
	DeviceID string    `json:"device_id"`
	Action   string    `json:"action"` // factory-revoked or operational-suspended
	At       time.Time `json:"at"`
}
