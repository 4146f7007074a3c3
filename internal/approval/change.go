package approval

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
)

// Governance changes: a party's change to its own governance (a policy version, an ownership
// cell, a separation-of-duties rule, an approval rule or approver group, a principal's duties,
// an environment's settings) and a waiver for one device. Each party sets, per kind, a
// ChangeRule: the approvals a change needs, as n-of-m quorums over named approver groups of
// its own principals. A change under a rule with a quorum becomes a pending Request decided
// by principals of the proposer's party, never by the proposer; it is applied only when every
// quorum is met.

// The kinds of governance change.
const (
	PolicyChange      Kind = "policy-change"        // a new version of an environment's policy
	OwnershipChange   Kind = "ownership-change"     // setting or deleting an ownership cell
	SoDChange         Kind = "sod-change"           // adding or deleting a separation-of-duties rule
	RuleChange        Kind = "approval-rule-change" // an approval rule or approver group
	DutyChange        Kind = "duty-change"          // limiting a principal's duties
	EnvironmentChange Kind = "environment-change"   // an environment's lifetime, max age, services or issuing CA
	Waiver            Kind = "waiver"               // a time-bound exception to one policy rule for one device
)

// ChangeKinds lists every governance change kind in a stable order.
var ChangeKinds = []Kind{PolicyChange, OwnershipChange, SoDChange, RuleChange, DutyChange, EnvironmentChange, Waiver}

// IsChange reports whether k is a governance change kind (decided under a party's
// ChangeRule, not a deployment Rule).
func (k Kind) IsChange() bool { return slices.Contains(ChangeKinds, k) }

// ParseChangeKind validates a governance change kind name.
func ParseChangeKind(s string) (Kind, error) {
	if Kind(s).IsChange() {
		return Kind(s), nil
	}
	names := make([]string, len(ChangeKinds))
	for i, k := range ChangeKinds {
		names[i] = string(k)
	}
	return "", failure.New(failure.Invalid, "change kind %q is not one of %s", s, strings.Join(names, ", "))
}

// changeStage is the stage a change kind's audit events are filed under.
func changeStage(k Kind) ownership.Stage {
	switch k {
	case PolicyChange, EnvironmentChange, Waiver:
		return ownership.Operational
	}
	return ""
}

// AnyPrincipal as a Need's group means any principal of the party other than the proposer.
const AnyPrincipal = "*"

// MaxQuorum bounds the approvals of one need and the needs of one rule.
const MaxQuorum = 16

// Need is one quorum of a rule: Approvals distinct principals of Group.
type Need struct {
	Group     string `json:"group"`
	Approvals int    `json:"approvals"`
}

func (n Need) String() string { return fmt.Sprintf("%d of %s", n.Approvals, n.Group) }

// ChangeRule is a party's rule for one kind of governance change. With no Quorum a change is
// applied at once (and audited); otherwise it waits until every Need is met.
type ChangeRule struct {
	PartyID string        `json:"party_id"`
	Kind    Kind          `json:"kind"`
	Quorum  []Need        `json:"quorum"`
	Expiry  time.Duration `json:"-"`
}

// DefaultChangeRule is the rule of a kind a party has not set: a policy change (and a waiver,
// which relaxes a policy) needs one other principal of the same party; the other kinds are
// applied at once. An approval rule change with no rule of its own is decided under the rule
// it replaces (governance.ChangeRuleFor), so a rule is never weakened by one person.
func DefaultChangeRule(partyID string, k Kind) ChangeRule {
	r := ChangeRule{PartyID: partyID, Kind: k, Quorum: []Need{}, Expiry: 72 * time.Hour}
	if k == PolicyChange || k == Waiver {
		r.Quorum = []Need{{Group: AnyPrincipal, Approvals: 1}}
	}
	return r
}

// Group is a named set of a party's principals that rules draw approvers from.
type Group struct {
	PartyID string   `json:"party_id"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

// MaxGroupMembers bounds a group.
const MaxGroupMembers = 64

// Validate checks a rule strictly against the party's groups (by name) and the number of its
// principals: a known kind, an expiry within bounds, each need naming an existing group (or
// AnyPrincipal) once, and asking for at least one and at most as many approvals as the group
// has members (n <= m; for AnyPrincipal, at most the party's principals less the proposer).
func (r ChangeRule) Validate(groups map[string]Group, principals int) error {
	if _, err := ParseChangeKind(string(r.Kind)); err != nil {
		return err
	}
	if r.Expiry < time.Minute || r.Expiry > MaxExpiry {
		return failure.New(failure.Invalid, "change rule for %s: expiry must be between 1m and %s, not %s", r.Kind, MaxExpiry, r.Expiry)
	}
	if len(r.Quorum) > MaxQuorum {
		return failure.New(failure.Invalid, "change rule for %s: at most %d groups", r.Kind, MaxQuorum)
	}
	seen := map[string]bool{}
	for _, n := range r.Quorum {
		if seen[n.Group] {
			return failure.New(failure.Invalid, "change rule for %s names group %q twice", r.Kind, n.Group)
		}
		seen[n.Group] = true
		if n.Approvals < 1 || n.Approvals > MaxQuorum {
			return failure.New(failure.Invalid, "change rule for %s: group %q needs between 1 and %d approvals, not %d", r.Kind, n.Group, MaxQuorum, n.Approvals)
		}
		m := principals - 1
		if n.Group != AnyPrincipal {
			g, ok := groups[n.Group]
			if !ok {
				return failure.New(failure.Invalid, "change rule for %s: party %s has no approver group %q", r.Kind, r.PartyID, n.Group)
			}
			m = len(g.Members)
		}
		if n.Approvals > m {
			return failure.New(failure.Invalid, "change rule for %s: %d approvals of %q, which has only %d possible approvers (n must not exceed m)", r.Kind, n.Approvals, n.Group, m)
		}
	}
	return nil
}

// Seat is a Need as a request carries it: the group's members when the request was made
// (nil for AnyPrincipal).
type Seat struct {
	Group     string   `json:"group"`
	Approvals int      `json:"approvals"`
	Members   []string `json:"members,omitempty"`
}

func (s Seat) has(principalID string) bool {
	return s.Group == AnyPrincipal || slices.Contains(s.Members, principalID)
}

// NewChange builds a pending governance change request under rule r, with the seats of its
// quorum (resolved from the party's groups). The requester is no approver: a seat that cannot
// be filled without the proposer refuses the request at once (no self-approval, ever), as
// does a quorum the party's other principals cannot meet. others is the number of the party's
// principals other than the proposer.
func NewChange(r ChangeRule, id string, seats []Seat, others int, q Request, now time.Time) (Request, error) {
	total, err := CheckSeats(r, seats, others, q.RequesterPrincipal)
	if err != nil {
		return q, err
	}
	q.ApproverParty = r.PartyID
	q, err = New(Rule{Kind: r.Kind, Approvers: total, Expiry: r.Expiry}, id, q, now)
	if err != nil {
		return q, err
	}
	q.Quorum = seats
	return q, nil
}

// CheckSeats says whether the seats of rule r can be filled for a change proposed by
// proposer, and returns how many approvals they need in all: each seat needs that many of its
// members other than the proposer (AnyPrincipal: of others, the party's possible approvers
// besides the proposer), and the seats together that many distinct principals. A seat the
// party cannot fill refuses the change (Denied); no seats at all is Invalid.
func CheckSeats(r ChangeRule, seats []Seat, others int, proposer string) (int, error) {
	if len(seats) == 0 {
		return 0, failure.New(failure.Invalid, "%s changes of party %s need no approval", r.Kind, r.PartyID)
	}
	total, union := 0, map[string]bool{}
	anyN := 0
	for _, s := range seats {
		eligible := 0
		for _, m := range s.Members {
			if m != proposer {
				eligible++
				union[m] = true
			}
		}
		if s.Group == AnyPrincipal {
			eligible = others
			anyN = s.Approvals
		}
		if eligible < s.Approvals {
			return 0, failure.New(failure.Denied, "the %s rule of party %s needs %d of %s, which has only %d approvers besides the proposer %s: a proposer never approves its own change",
				r.Kind, r.PartyID, s.Approvals, s.Group, eligible, proposer)
		}
		total += s.Approvals
	}
	if anyN == 0 && len(union) < total {
		return 0, failure.New(failure.Denied, "the %s rule of party %s needs %d distinct approvers, but its groups hold only %d besides the proposer", r.Kind, r.PartyID, total, len(union))
	}
	return total, nil
}

// decideQuorum records d on a request with a quorum: the principal takes the first seat it
// belongs to that still needs approvals; a denial by any principal of a seat denies.
func (q *Request) decideQuorum(d Decision, now time.Time) error {
	if !d.Approve {
		for _, s := range q.Quorum {
			if s.has(d.PrincipalID) {
				d.Group = s.Group
				break
			}
		}
		if d.Group == "" {
			return failure.New(failure.Denied, "principal %s is in no approver group of approval %s (%s)", d.PrincipalID, q.ID, q.quorumText())
		}
		d.At = now
		q.Decisions = append(q.Decisions, d)
		q.State, q.DecidedAt = Denied, &now
		return nil
	}
	for _, s := range q.Quorum {
		if s.has(d.PrincipalID) && q.filled(s.Group) < s.Approvals {
			d.Group, d.At = s.Group, now
			q.Decisions = append(q.Decisions, d)
			if q.quorumMet() {
				q.State, q.DecidedAt = Approved, &now
			}
			return nil
		}
	}
	return failure.New(failure.Denied, "principal %s is in no approver group that approval %s still needs (%s)", d.PrincipalID, q.ID, q.quorumText())
}

func (q *Request) filled(group string) int {
	n := 0
	for _, d := range q.Decisions {
		if d.Approve && d.Group == group {
			n++
		}
	}
	return n
}

func (q *Request) quorumMet() bool {
	for _, s := range q.Quorum {
		if q.filled(s.Group) < s.Approvals {
			return false
		}
	}
	return true
}

// quorumText says, per seat, how many approvals it has of how many: "security-leads 1/2, ops 0/1".
func (q *Request) quorumText() string {
	parts := make([]string, len(q.Quorum))
	for i, s := range q.Quorum {
		parts[i] = fmt.Sprintf("%s %d/%d", s.Group, q.filled(s.Group), s.Approvals)
	}
	return strings.Join(parts, ", ")
}
