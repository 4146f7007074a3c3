package store

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

// ChangeRules stores each party's rules for governance changes and its approver groups.
type ChangeRules interface {
	// ChangeRule returns the party's stored rule of a kind; ok is false when none was set.
	ChangeRule(partyID string, k approval.Kind) (r approval.ChangeRule, ok bool, err error)
	SetChangeRule(r approval.ChangeRule, by string, at time.Time) error
	// ApproverGroups returns the party's groups by name.
	ApproverGroups(partyID string) (map[string]approval.Group, error)
	// SetApproverGroup creates or replaces a group.
	SetApproverGroup(g approval.Group, by string, at time.Time) error
}

// WaiverFilter selects waivers; zero fields match everything.
type WaiverFilter struct {
	Party    string
	DeviceID string
	// ActiveAt keeps waivers whose NotAfter is after it.
	ActiveAt *time.Time
	Limit    int
}

// Waivers stores approved waivers.
type Waivers interface {
	CreateWaiver(w waiver.Waiver) error
	// ListWaivers returns waivers, newest first.
	ListWaivers(f WaiverFilter) ([]waiver.Waiver, error)
}
