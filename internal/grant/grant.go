// Package grant defines a support grant: a vendor engineer's time-bound access to named
// devices, or to one lot's devices within one environment, asked for by one party, approved by
// the operator, and carried by its own certificate — never by the device's credential. Pure:
// no I/O, no clock.
//
// Invariants: a grant has a window no longer than its environment allows and never one in the
// past; it reaches only devices of its environment whose custodian is the environment's
// operator; it is usable only while active, inside its window, and with its certificate not
// revoked.
package grant

import (
	"slices"
	"time"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// State is where a grant is. Expiry is not a state: a grant past its window is simply no
// longer usable, and Status reports it as expired.
type State string

// States.
const (
	Requested State = "requested" // waiting for approval
	Active    State = "active"    // approved and its certificate issued
	Denied    State = "denied"    // the approval was denied, expired or cancelled
	Revoked   State = "revoked"   // ended early
)

// Grant is one support grant.
type Grant struct {
	ID                 string     `json:"id"`
	ApprovalID         string     `json:"approval_id"`
	RequesterParty     string     `json:"requester_party"`
	RequesterPrincipal string     `json:"requester_principal"`
	Engineer           string     `json:"engineer"`
	EnvironmentID      string     `json:"environment_id"`
	OperatorID         string     `json:"operator_id"`
	LotID              string     `json:"lot_id,omitempty"`
	Devices            []string   `json:"devices,omitempty"`
	Reason             string     `json:"reason"`
	NotBefore          time.Time  `json:"not_before"`
	NotAfter           time.Time  `json:"not_after"`
	State              State      `json:"state"`
	CSR                string     `json:"-"`
	CertSerial         string     `json:"certificate_serial,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	RevokedAt          *time.Time `json:"revoked_at,omitempty"`
	RevokedBy          string     `json:"revoked_by,omitempty"`
}

// Status is the grant's state as of now: "expired" for an active grant past its window.
func (g Grant) Status(now time.Time) string {
	if g.State == Active && !now.Before(g.NotAfter) {
		return "expired"
	}
	return string(g.State)
}

// Limits bound a window.
const (
	// ClockSkew is how far in the past a window may start (the time a request takes to write).
	ClockSkew = 5 * time.Minute
	// DefaultMaxWindow is an environment's maximum support window when it sets none.
	DefaultMaxWindow = 8 * time.Hour
	// MaxDevices bounds a grant's named devices; more is a lot grant.
	MaxDevices = 100
)

// CheckWindow refuses a window that is empty, ends in the past, starts more than ClockSkew
// ago, or is longer than max.
func CheckWindow(notBefore, notAfter, now time.Time, max time.Duration) error {
	switch {
	case notBefore.IsZero() || notAfter.IsZero():
		return failure.New(failure.Invalid, "a support grant needs a window: not_before and not_after")
	case !notAfter.After(notBefore):
		return failure.New(failure.Invalid, "the window ends (%s) before it starts (%s)", notAfter.Format(time.RFC3339), notBefore.Format(time.RFC3339))
	case !notAfter.After(now):
		return failure.New(failure.Invalid, "the window ended at %s, in the past", notAfter.Format(time.RFC3339))
	case notBefore.Before(now.Add(-ClockSkew)):
		return failure.New(failure.Invalid, "the window starts at %s, in the past", notBefore.Format(time.RFC3339))
	case notAfter.Sub(notBefore) > max:
		return failure.New(failure.Invalid, "the window is %s long, over the environment's maximum of %s", notAfter.Sub(notBefore), max)
	}
	return nil
}

// CheckScope refuses a scope that names both or neither of a lot and devices, or too many
// devices, or a device twice.
func CheckScope(lotID string, devices []string) error {
	if (lotID == "") == (len(devices) == 0) {
		return failure.New(failure.Invalid, "a support grant names either devices or one lot")
	}
	if len(devices) > MaxDevices {
		return failure.New(failure.Invalid, "a support grant names at most %d devices; ask for their lot instead", MaxDevices)
	}
	seen := map[string]bool{}
	for _, d := range devices {
		if d == "" || seen[d] {
			return failure.New(failure.Invalid, "device %q is empty or named twice", d)
		}
		seen[d] = true
	}
	return nil
}

// Reach is the answer to "may this support certificate reach this device now?".
type Reach struct {
	Allowed  bool       `json:"allowed"`
	Reason   string     `json:"reason"`
	GrantID  string     `json:"grant_id,omitempty"`
	Engineer string     `json:"engineer,omitempty"`
	NotAfter *time.Time `json:"not_after,omitempty"`
}

// Reaches decides whether grant g, with its certificate in good standing (certOK), lets its
// holder reach device d at now.
func (g Grant) Reaches(d device.Device, certOK bool, now time.Time) Reach {
	r := Reach{GrantID: g.ID, Engineer: g.Engineer}
	na := g.NotAfter
	r.NotAfter = &na
	deny := func(why string) Reach { r.Reason = why; return r }
	switch {
	case g.State != Active:
		return deny("grant " + g.ID + " is " + string(g.State))
	case !certOK:
		return deny("the support certificate of grant " + g.ID + " is revoked")
	case now.Before(g.NotBefore):
		return deny("grant " + g.ID + " starts at " + g.NotBefore.Format(time.RFC3339))
	case !now.Before(g.NotAfter):
		return deny("grant " + g.ID + " expired at " + g.NotAfter.Format(time.RFC3339))
	case d.EnvironmentID != g.EnvironmentID:
		return deny("device " + d.ID + " is not in environment " + g.EnvironmentID)
	case d.CustodianID != g.OperatorID:
		return deny("device " + d.ID + " is no longer held by operator " + g.OperatorID)
	case g.LotID != "" && d.LotID != g.LotID:
		return deny("device " + d.ID + " is not of lot " + g.LotID)
	case g.LotID == "" && !slices.Contains(g.Devices, d.ID):
		return deny("device " + d.ID + " is not named by grant " + g.ID)
	}
	r.Allowed, r.Reason = true, "grant "+g.ID+" is active until "+g.NotAfter.Format(time.RFC3339)
	return r
}
