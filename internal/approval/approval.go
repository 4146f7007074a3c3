// Package approval is Hallmark's one approval mechanism: a request (who, what, why, until
// when) that principals other than the requester approve or deny, under a rule that says how
// many approvers it needs, whether they must belong to another party, and when an undecided
// request expires. Support access, re-admission of a quarantined or suspended device,
// revocation of a whole issuing CA and onboarding under a policy that asks for manual approval
// all go through it. Pure: no I/O, no clock.
//
// Invariants: the requester never approves their own request; no principal decides twice; a
// request is decided once (approved, denied, expired or cancelled) and an approved request is
// consumed at most once, by the action it approved, in the same transaction as that action,
// and only before its ExecuteBy: an approval left unused lapses.
package approval

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

// Kind is what a request asks to do.
type Kind string

// The kinds of request.
const (
	SupportGrant Kind = "support-grant" // a vendor engineer's time-bound access to devices
	Readmit      Kind = "readmit"       // trusting a quarantined or suspended device again
	RevokeCA     Kind = "revoke-ca"     // revoking every factory identity of an issuing CA
	Onboard      Kind = "onboard"       // onboarding under a policy with require_approval
	Manifest     Kind = "manifest"      // trusting an unsigned (CSV) device manifest of a maker
	Repair       Kind = "repair"        // a new build record and factory identity for a repaired device
	Reorigin     Kind = "reorigin"      // a maker's re-issued factory certificate for a maker's device
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{SupportGrant, Readmit, RevokeCA, Onboard, Manifest, Repair, Reorigin}

// ParseKind validates a kind name.
func ParseKind(s string) (Kind, error) {
	if slices.Contains(Kinds, Kind(s)) || Kind(s).IsChange() {
		return Kind(s), nil
	}
	return "", failure.New(failure.Invalid, "approval kind %q is not support-grant, readmit, revoke-ca, onboard, manifest, repair, reorigin or a governance change kind", s)
}

// Stage is the governance stage whose approve duty decides requests of this kind.
func (k Kind) Stage() ownership.Stage {
	if k.IsChange() {
		return changeStage(k)
	}
	switch k {
	case SupportGrant:
		return ownership.Support
	case RevokeCA, Repair:
		return ownership.Manufacturing
	}
	return ownership.Operational
}

// State is where a request is in its life.
type State string

// States. Pending is the only undecided state; Approved becomes Executed when the action
// it approved consumes it, or Expired when it has not by its ExecuteBy.
const (
	Pending   State = "pending"
	Approved  State = "approved"
	Denied    State = "denied"
	Expired   State = "expired"
	Cancelled State = "cancelled"
	Executed  State = "executed"
)

// Rule says who may approve requests of one kind.
type Rule struct {
	Kind Kind `json:"kind"`
	// Approvers is how many distinct principals must approve: 1 or 2.
	Approvers int `json:"approvers"`
	// OtherParty requires approvers of another party than the requester's.
	OtherParty bool `json:"other_party"`
	// Expiry is how long an undecided request stays open.
	Expiry time.Duration `json:"-"`
}

// MaxExpiry bounds how long any request may stay undecided.
const MaxExpiry = 30 * 24 * time.Hour

// Validate checks a rule given by an administrator.
func (r Rule) Validate() error {
	if _, err := ParseKind(string(r.Kind)); err != nil {
		return err
	}
	if r.Approvers < 1 || r.Approvers > 2 {
		return failure.New(failure.Invalid, "approval rule for %s: approvers must be 1 or 2, not %d", r.Kind, r.Approvers)
	}
	if r.Expiry < time.Minute || r.Expiry > MaxExpiry {
		return failure.New(failure.Invalid, "approval rule for %s: expiry must be between 1m and %s, not %s", r.Kind, MaxExpiry, r.Expiry)
	}
	if r.Kind == SupportGrant && !r.OtherParty {
		// PRODUCT.md: support access is requested by one party and approved by another.
		return failure.New(failure.Invalid, "approval rule for support-grant: approvers must belong to another party than the requester")
	}
	return nil
}

// DefaultRules are the rules a new deployment starts with. Revoking a whole issuing CA is the
// most destructive act Hallmark knows, so it needs two approvers.
func DefaultRules() []Rule {
	return []Rule{
		{Kind: SupportGrant, Approvers: 1, OtherParty: true, Expiry: 72 * time.Hour},
		{Kind: Readmit, Approvers: 1, Expiry: 72 * time.Hour},
		{Kind: RevokeCA, Approvers: 2, Expiry: 24 * time.Hour},
		{Kind: Onboard, Approvers: 1, Expiry: 24 * time.Hour},
		{Kind: Manifest, Approvers: 1, Expiry: 72 * time.Hour},
		{Kind: Repair, Approvers: 1, Expiry: 72 * time.Hour},
		{Kind: Reorigin, Approvers: 1, Expiry: 72 * time.Hour},
	}
}

// DefaultRule returns the default rule of a kind.
func DefaultRule(k Kind) Rule {
	for _, r := range DefaultRules() {
		if r.Kind == k {
			return r
		}
	}
	return Rule{Kind: k, Approvers: 1, Expiry: 24 * time.Hour}
}

// Request is one approval request.
type Request struct {
	ID                 string          `json:"id"`
	Kind               Kind            `json:"kind"`
	State              State           `json:"state"`
	RequesterParty     string          `json:"requester_party"`
	RequesterPrincipal string          `json:"requester_principal"`
	ApproverParty      string          `json:"approver_party"` // the owner of the approve duty over Scope
	Scope              string          `json:"scope"`          // e.g. environment:env-1
	Subject            string          `json:"subject"`        // e.g. device:dev-1
	Reason             string          `json:"reason"`
	Until              *time.Time      `json:"until,omitempty"` // the end of the access asked for, when it has one
	Payload            json.RawMessage `json:"payload,omitempty"`
	Approvers          int             `json:"approvers"`
	OtherParty         bool            `json:"other_party"`
	Decisions          []Decision      `json:"decisions"`
	// Quorum, on a governance change, is the n-of-m groups that must approve it (NewChange);
	// Approvers is then their total.
	Quorum     []Seat     `json:"quorum,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	ExecutedAt *time.Time `json:"executed_at,omitempty"`
}

// Decision is one principal's approval or denial.
type Decision struct {
	PartyID     string `json:"party_id"`
	PrincipalID string `json:"principal_id"`
	Approve     bool   `json:"approve"`
	Comment     string `json:"comment,omitempty"`
	// Group is the approver group whose seat the decision took (governance changes).
	Group string    `json:"group,omitempty"`
	At    time.Time `json:"at"`
}

// MaxReason bounds the free text of a request or decision.
const MaxReason = 1024

// New builds a pending request under rule r. It checks what the requester gave.
func New(r Rule, id string, q Request, now time.Time) (Request, error) {
	if q.Reason == "" {
		return q, failure.New(failure.Invalid, "an approval request needs a reason")
	}
	if len(q.Reason) > MaxReason {
		return q, failure.New(failure.Invalid, "the reason is longer than %d bytes", MaxReason)
	}
	if q.ApproverParty == "" {
		return q, failure.New(failure.Denied, "nobody owns %s/approve over %s: the request could never be decided (a governance gap)", r.Kind.Stage(), q.Scope)
	}
	if r.OtherParty && q.ApproverParty == q.RequesterParty {
		return q, failure.New(failure.Denied, "%s requests must be approved by another party, but %s both requests and owns the approval over %s", r.Kind, q.RequesterParty, q.Scope)
	}
	q.ID, q.Kind, q.State = id, r.Kind, Pending
	q.Approvers, q.OtherParty = r.Approvers, r.OtherParty
	q.Decisions = []Decision{}
	q.CreatedAt, q.ExpiresAt = now, now.Add(r.Expiry)
	return q, nil
}

// Expire moves a request past its time to Expired and reports whether it did: a pending
// request past its expiry (DecidedAt becomes the expiry), and an approved one whose action
// did not run by ExecuteBy (DecidedAt stays the approval's time). An approval is leave to act
// now, as the approvers saw the request, not a standing permission: one left unused (its
// action refused when it ran, the server stopped first, or a device that has not come back
// to enroll) lapses as an undecided request does.
func (q *Request) Expire(now time.Time) bool {
	if q.State == Pending && !now.Before(q.ExpiresAt) {
		q.State = Expired
		t := q.ExpiresAt
		q.DecidedAt = &t
		return true
	}
	if q.Lapsed(now) != nil {
		q.State = Expired
		return true
	}
	return false
}

// RuleLapsed names the refusal of an approved request used at or after its ExecuteBy.
const RuleLapsed = "approval:lapsed"

// LapsedError is that refusal.
type LapsedError struct {
	ID             string
	ApprovedAt, By time.Time
}

func (e *LapsedError) Error() string {
	return fmt.Sprintf("approval %s was approved at %s and lapsed unused at %s: ask for approval again", e.ID, e.ApprovedAt.Format(time.RFC3339), e.By.Format(time.RFC3339))
}

// FailureKind classifies the refusal: the request is no longer in a state to be used.
func (e *LapsedError) FailureKind() failure.Kind { return failure.Conflict }

// FailureRule names the rule.
func (e *LapsedError) FailureRule() string { return RuleLapsed }

// Lapsed returns a *LapsedError when q is approved and its ExecuteBy is not after now.
func (q *Request) Lapsed(now time.Time) error {
	if by, ok := q.ExecuteBy(); ok && !now.Before(by) {
		return &LapsedError{ID: q.ID, ApprovedAt: *q.DecidedAt, By: by}
	}
	return nil
}

// ExecuteBy is when an approved request lapses unless its action has run: as long after its
// approval as it had to be decided in (ExpiresAt − CreatedAt, its rule's expiry then). ok is
// false for a request that is not approved.
func (q *Request) ExecuteBy() (time.Time, bool) {
	if q.State != Approved || q.DecidedAt == nil {
		return time.Time{}, false
	}
	return q.DecidedAt.Add(q.ExpiresAt.Sub(q.CreatedAt)), true
}

// Decide records one decision. It refuses the requester, a principal who already decided, a
// principal of a party that does not own the approval, a principal of the requester's party
// when the rule asks for another party, and any decision on a request that is not pending.
func (q *Request) Decide(d Decision, now time.Time) error {
	if q.Expire(now) {
		return failure.New(failure.Conflict, "approval %s expired at %s undecided", q.ID, q.ExpiresAt.Format(time.RFC3339))
	}
	if q.State != Pending {
		return failure.New(failure.Conflict, "approval %s is %s, not pending", q.ID, q.State)
	}
	if len(d.Comment) > MaxReason {
		return failure.New(failure.Invalid, "the comment is longer than %d bytes", MaxReason)
	}
	if d.PrincipalID == q.RequesterPrincipal {
		return failure.New(failure.Denied, "principal %s requested approval %s and cannot decide it: another person must", d.PrincipalID, q.ID)
	}
	if d.PartyID != q.ApproverParty {
		return failure.New(failure.Denied, "approval %s is decided by party %s (the owner of %s/approve over %s), not %s", q.ID, q.ApproverParty, q.Kind.Stage(), q.Scope, d.PartyID)
	}
	if q.OtherParty && d.PartyID == q.RequesterParty {
		return failure.New(failure.Denied, "approval %s must be decided by another party than the requester's (%s)", q.ID, q.RequesterParty)
	}
	for _, p := range q.Decisions {
		if p.PrincipalID == d.PrincipalID {
			return failure.New(failure.Conflict, "principal %s already decided approval %s", d.PrincipalID, q.ID)
		}
	}
	if len(q.Quorum) > 0 {
		return q.decideQuorum(d, now)
	}
	d.At = now
	q.Decisions = append(q.Decisions, d)
	switch {
	case !d.Approve:
		q.State = Denied
	case q.approvals() >= q.Approvers:
		q.State = Approved
	default:
		return nil
	}
	q.DecidedAt = &now
	return nil
}

func (q *Request) approvals() int {
	n := 0
	for _, d := range q.Decisions {
		if d.Approve {
			n++
		}
	}
	return n
}

// Cancel withdraws a pending request, or an approved one whose action has not run (an
// executed one is done); only its requester's party may.
func (q *Request) Cancel(partyID string, now time.Time) error {
	if q.Expire(now) || q.State != Pending && q.State != Approved {
		return failure.New(failure.Conflict, "approval %s is %s: only a pending request, or an approved one whose action has not run, is cancelled", q.ID, q.State)
	}
	if partyID != q.RequesterParty {
		return failure.New(failure.Denied, "only party %s, which asked for approval %s, may cancel it", q.RequesterParty, q.ID)
	}
	q.State, q.DecidedAt = Cancelled, &now
	return nil
}

// Consume marks an approved request as executed by the action it approved. The kind and
// subject must match, so an approval for one device never re-admits another.
func (q *Request) Consume(k Kind, subject string, now time.Time) error {
	if q.Kind != k || q.Subject != subject {
		return failure.New(failure.Invalid, "approval %s approves %s of %s, not %s of %s", q.ID, q.Kind, q.Subject, k, subject)
	}
	if err := q.Lapsed(now); err != nil {
		q.Expire(now)
		return err
	}
	switch q.State {
	case Approved:
	case Pending:
		return failure.New(failure.Conflict, "approval %s is still pending (%d of %d approvals)", q.ID, q.approvals(), q.Approvers)
	default:
		return failure.New(failure.Conflict, "approval %s is %s and cannot be used", q.ID, q.State)
	}
	q.State, q.ExecutedAt = Executed, &now
	return nil
}
