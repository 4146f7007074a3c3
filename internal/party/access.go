package party

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Access is a break-glass request: a deployment administrator asks for the right to manage one
// party's principals (create them, rotate or revoke their tokens, disable, enable or delete
// them) for a bounded time, and one of that party's administrators approves or denies it.
// It never lets the deployment administrator act as the party or read its devices.
type Access struct {
	ID          string        `json:"id"`
	PartyID     string        `json:"party_id"`     // the party whose principals it concerns
	PrincipalID string        `json:"principal_id"` // the deployment administrator who asked
	Reason      string        `json:"reason"`
	Duration    time.Duration `json:"-"` // the window asked for; it starts at approval
	State       AccessState   `json:"state"`
	RequestedAt time.Time     `json:"requested_at"`
	ExpiresAt   time.Time     `json:"expires_at"` // an undecided request lapses then
	DecidedBy   string        `json:"decided_by,omitempty"`
	DecidedAt   *time.Time    `json:"decided_at,omitempty"`
	Comment     string        `json:"comment,omitempty"`
	Until       *time.Time    `json:"until,omitempty"` // approved: the end of the window
	EndedAt     *time.Time    `json:"ended_at,omitempty"`
	EndedBy     string        `json:"ended_by,omitempty"`
}

// AccessState is where a break-glass request is.
type AccessState string

// Access states. Expired (an undecided request past ExpiresAt) and Over (an approved window
// past Until) are derived on read and never stored.
const (
	AccessPending  AccessState = "pending"
	AccessApproved AccessState = "approved"
	AccessDenied   AccessState = "denied"
	AccessEnded    AccessState = "ended" // ended early, by the party or the requester
	AccessExpired  AccessState = "expired"
	AccessOver     AccessState = "over"
)

// Break-glass bounds.
const (
	MaxAccess        = 24 * time.Hour // the longest window one approval opens
	DefaultAccess    = time.Hour
	AccessRequestTTL = 24 * time.Hour // how long a request waits for a decision
	MaxAccessReason  = 1024
)

// At returns a with its derived state at now.
func (a Access) At(now time.Time) Access {
	switch {
	case a.State == AccessPending && !now.Before(a.ExpiresAt):
		a.State = AccessExpired
	case a.State == AccessApproved && a.Until != nil && !now.Before(*a.Until):
		a.State = AccessOver
	}
	return a
}

// Open reports whether a lets its requester manage the party's principals at now.
func (a Access) Open(now time.Time) bool { return a.At(now).State == AccessApproved }

// CheckAccessRequest validates what a deployment administrator asks for.
func CheckAccessRequest(reason string, d time.Duration) (time.Duration, error) {
	if d == 0 {
		d = DefaultAccess
	}
	if d < time.Minute || d > MaxAccess {
		return 0, failure.New(failure.Invalid, "a break-glass window must be between 1m and %s, not %s", MaxAccess, d)
	}
	if err := validText(reason, MaxAccessReason); err != nil {
		return 0, failure.New(failure.Invalid, "a break-glass request needs a reason: %v", err)
	}
	return d, nil
}

// validText checks free text: not blank, at most max bytes, no control characters.
func validText(s string, max int) error {
	if strings.TrimSpace(s) == "" || len(s) > max {
		return fmt.Errorf("1-%d bytes of text", max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("no control characters")
		}
	}
	return nil
}
