// Package waiver is a time-bound exception to one rule of an environment's renewal policy
// for one device: requested by the device's operator, approved through the approval
// machinery (approval.Waiver), and honoured at renewal until it expires by itself. Pure: no
// I/O, no clock.
//
// Invariants: a waiver names exactly one device and one rule; it never outlives MaxLife; a
// waived rule that denies is recorded as waived, never dropped silently.
package waiver

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/policy"
)

// MaxLife bounds how long a waiver may last.
const MaxLife = 90 * 24 * time.Hour

// Waiver is one approved exception.
type Waiver struct {
	ID            string    `json:"id"`
	PartyID       string    `json:"party_id"`
	DeviceID      string    `json:"device_id"`
	EnvironmentID string    `json:"environment_id"`
	Rule          string    `json:"rule"` // the name of a renewal policy rule
	Reason        string    `json:"reason"`
	ApprovalID    string    `json:"approval_id"`
	RequestedBy   string    `json:"requested_by"`
	NotAfter      time.Time `json:"not_after"`
	CreatedAt     time.Time `json:"created_at"`
}

// Active reports whether the waiver still holds at now.
func (w Waiver) Active(now time.Time) bool { return now.Before(w.NotAfter) }

// Request is what an operator asks for.
type Request struct {
	DeviceID string        `json:"device_id"`
	Rule     string        `json:"rule"`
	Reason   string        `json:"reason"`
	For      time.Duration `json:"-"`
}

// Validate checks a request: a device, a rule name, a reason, and a life within MaxLife.
func (r Request) Validate() error {
	switch {
	case r.DeviceID == "":
		return failure.New(failure.Invalid, "a waiver names a device")
	case r.Rule == "" || len(r.Rule) > 64:
		return failure.New(failure.Invalid, "a waiver names one policy rule (at most 64 bytes)")
	case r.Reason == "":
		return failure.New(failure.Invalid, "a waiver needs a reason")
	case r.For < time.Minute || r.For > MaxLife:
		return failure.New(failure.Invalid, "a waiver lasts between 1m and %s, not %s", MaxLife, r.For)
	}
	return nil
}

// Apply returns the decision with the failures of waived rules removed, and the rules it
// waived. A decision denied only by waived rules allows; a decision that asks for approval is
// left as it is (a waiver relaxes a rule, not the policy's approval).
func Apply(dec policy.Decision, active []Waiver) (policy.Decision, []string) {
	if dec.Allowed || len(dec.Failed) == 0 || len(active) == 0 {
		return dec, nil
	}
	waived := map[string]bool{}
	for _, w := range active {
		waived[w.Rule] = true
	}
	var kept []policy.Failure
	var used []string
	for _, f := range dec.Failed {
		if waived[f.Rule] && f.Error == "" {
			used = append(used, f.Rule)
			continue
		}
		kept = append(kept, f)
	}
	if len(used) == 0 {
		return dec, nil
	}
	dec.Failed = kept
	dec.Allowed = len(kept) == 0 && !dec.ApprovalRequired
	return dec, used
}
