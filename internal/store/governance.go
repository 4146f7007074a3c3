package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/grant"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

// ApprovalFilter selects approval requests; zero fields match everything.
type ApprovalFilter struct {
	Kind approval.Kind
	// Party keeps requests this party asked for or decides.
	Party   string
	Subject string
	State   approval.State
	Limit   int
}

// Approvals stores approval requests and the rules they are created under.
type Approvals interface {
	CreateApproval(r approval.Request) error
	GetApproval(id string) (approval.Request, error)
	// UpdateApproval writes r if the stored request is still in state expect; otherwise
	// ErrConflict and nothing is written.
	UpdateApproval(r approval.Request, expect approval.State) error
	// ListApprovals returns requests, newest first.
	ListApprovals(f ApprovalFilter) ([]approval.Request, error)
	// Rule returns the stored rule of a kind; ok is false when none was set (the default applies).
	Rule(k approval.Kind) (r approval.Rule, ok bool, err error)
	SetRule(r approval.Rule, by string, at time.Time) error
}

// GrantFilter selects support grants; zero fields match everything.
type GrantFilter struct {
	EnvironmentID string
	// Party keeps grants this party asked for or whose environment it operates.
	Party    string
	DeviceID string // grants naming this device, or its lot in its environment
	LotID    string
	State    grant.State
	Limit    int
}

// SupportGrants stores support grants.
type SupportGrants interface {
	CreateGrant(g grant.Grant) error
	GetGrant(id string) (grant.Grant, error)
	GrantBySerial(serialHex string) (grant.Grant, error)
	// UpdateGrant writes g if the stored grant is still in state expect.
	UpdateGrant(g grant.Grant, expect grant.State) error
	ListGrants(f GrantFilter) ([]grant.Grant, error)
}

// SoDRule is a separation-of-duties rule: no one principal may hold both duties over one scope.
type SoDRule struct {
	ID string         `json:"id"`
	A  ownership.Pair `json:"a"`
	B  ownership.Pair `json:"b"`
	By string         `json:"created_by"`
	At time.Time      `json:"created_at"`
}

// Duties stores separation-of-duties rules and the duties each principal is limited to.
type Duties interface {
	ListSoDRules() ([]SoDRule, error)
	CreateSoDRule(r SoDRule) error
	DeleteSoDRule(id string) error
	// PrincipalDuties returns the duties a principal is limited to; none means every duty its
	// party owns.
	PrincipalDuties(principalID string) ([]ownership.Pair, error)
	SetPrincipalDuties(principalID string, duties []ownership.Pair) error
}

// DeviceCount is how many devices of one lot are in one state in one environment ("" for
// none).
type DeviceCount struct {
	LotID         string
	EnvironmentID string
	State         string
	Devices       int
}

// GovernanceReads are the set-based reads of the governance gaps report.
type GovernanceReads interface {
	// DeviceCounts counts devices by lot, environment and state in one pass.
	DeviceCounts() ([]DeviceCount, error)
}
