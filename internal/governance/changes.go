package governance

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Governance changes under approval (issue 17). A change of one of approval.ChangeKinds is
// checked by the service that owns it (who may make it, whether it is valid) and then passed
// through Govern in the same transaction: under the proposer's party's ChangeRule it is
// applied at once, or it becomes a pending request (audited "change.propose") that principals
// of the same party approve under the rule's quorum, never the proposer. When the quorum is
// met, the request's executor (registered with OnApproved) runs the same service call as the
// proposer with the approval's ID: the checks are made again as of then, and Govern consumes
// the approval in the transaction that applies the change.

// Change is one governed change as its service describes it.
type Change struct {
	Kind    approval.Kind
	Scope   string // e.g. environment:env-1, party:acme
	Subject string // what changes, e.g. environment:env-1/policy:renewal
	Reason  string // the proposer's; a default naming the change when empty
	Payload any    // what the executor needs to apply the change
	// ApprovalID is set only by an executor: the approved request this call applies.
	ApprovalID string
	// Rule, when set, is the rule to decide under instead of the party's rule of Kind (an
	// approval rule change with no rule of its own is decided under the rule it replaces).
	Rule *approval.ChangeRule
	// Base is the state of exactly what the change touches as of the caller's transaction
	// (bases.go: a cell's owner, a rule, a group's members, "absent"). A proposal records it
	// in its payload as "base"; when an executor applies the approval, Govern refuses it
	// unless the recorded base equals Base as of the applying transaction (CheckBase). A
	// proposal recorded before bases were (its payload has none) applies as it always did:
	// CheckBase skips an empty base. Empty Base: the caller checks a base of its own (policy
	// and environment changes) or has none (a waiver creates a new thing).
	Base string
	// BaseWhat names the base in a refusal, e.g. "cell manufacturing/issue on lot:l1:".
	BaseWhat string
}

// Govern decides, inside the caller's transaction, whether change c by a applies now (apply
// true: the caller makes the change in this transaction) or waits for approval (apply false:
// q is the pending request, created and audited here).
func Govern(tx store.Tx, a audit.Actor, now time.Time, c Change) (q approval.Request, apply bool, err error) {
	if c.ApprovalID != "" {
		if q, err = ConsumeApproval(tx, a, now, c.ApprovalID, c.Kind, c.Subject); err != nil {
			return q, false, err
		}
		if c.Base != "" {
			base, err := recordedBase(q)
			if err != nil {
				return q, false, err
			}
			if err := CheckBase(c.ApprovalID, c.BaseWhat, base, c.Base); err != nil {
				return q, false, err
			}
		}
		return q, true, nil
	}
	rule := approval.ChangeRule{}
	if c.Rule != nil {
		rule = *c.Rule
	} else if rule, err = ChangeRuleFor(tx, a.PartyID, c.Kind); err != nil {
		return q, false, err
	}
	if len(rule.Quorum) == 0 {
		return q, true, nil
	}
	rule.Kind = c.Kind
	seats, others, err := seatsOf(tx, rule, a.PrincipalID)
	if err != nil {
		return q, false, err
	}
	reason := c.Reason
	if reason == "" {
		reason = fmt.Sprintf("%s of %s", c.Kind, c.Subject)
	}
	q = approval.Request{RequesterParty: a.PartyID, RequesterPrincipal: a.PrincipalID, Scope: c.Scope, Subject: c.Subject, Reason: reason}
	switch {
	case c.Base != "":
		if q.Payload, err = withBase(c.Payload, c.Base); err != nil {
			return q, false, err
		}
	case c.Payload != nil:
		if q.Payload, err = jsonOf(c.Payload); err != nil {
			return q, false, err
		}
	}
	if q, err = approval.NewChange(rule, newApprovalID(), seats, others, q, now); err != nil {
		return q, false, err
	}
	if err := tx.Approvals().CreateApproval(q); err != nil {
		return q, false, err
	}
	_, err = tx.Audit().Append(Event(a, now, "change.propose", c.Kind.Stage(), q.Scope, q.Subject, q))
	return q, false, err
}

// ChangeRuleFor returns the rule partyID's changes of kind k are made under: the stored one,
// or approval.DefaultChangeRule.
func ChangeRuleFor(tx store.Tx, partyID string, k approval.Kind) (approval.ChangeRule, error) {
	r, ok, err := tx.ChangeRules().ChangeRule(partyID, k)
	if err != nil || ok {
		return r, err
	}
	return approval.DefaultChangeRule(partyID, k), nil
}

// seatsOf resolves a rule's needs to seats with the groups' members as of now, and counts the
// party's enabled principals other than the proposer.
func seatsOf(tx store.Tx, r approval.ChangeRule, proposer string) ([]approval.Seat, int, error) {
	groups, err := tx.ChangeRules().ApproverGroups(r.PartyID)
	if err != nil {
		return nil, 0, fmt.Errorf("reading approver groups: %w", err)
	}
	ps, err := tx.Parties().ListPrincipals(r.PartyID)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the party's principals: %w", err)
	}
	enabled := map[string]bool{}
	others := 0
	for _, p := range ps {
		if p.DisabledAt == nil {
			enabled[p.ID] = true
			if p.ID != proposer {
				others++
			}
		}
	}
	seats, missing := resolveSeats(r, groups, func(id string) bool { return enabled[id] })
	if missing != "" {
		return nil, 0, failure.New(failure.Invalid, "the %s rule of party %s names approver group %q, which no longer exists", r.Kind, r.PartyID, missing)
	}
	return seats, others, nil
}

// resolveSeats turns a rule's needs into seats whose members are the groups' members that
// may approve (may); missing is the first group the rule names that does not exist ("" when
// none), in which case seats is nil.
func resolveSeats(r approval.ChangeRule, groups map[string]approval.Group, may func(string) bool) (seats []approval.Seat, missing string) {
	seats = make([]approval.Seat, 0, len(r.Quorum))
	for _, n := range r.Quorum {
		s := approval.Seat{Group: n.Group, Approvals: n.Approvals}
		if n.Group != approval.AnyPrincipal {
			g, ok := groups[n.Group]
			if !ok {
				return nil, n.Group
			}
			s.Members = []string{}
			for _, m := range g.Members {
				if may(m) {
					s.Members = append(s.Members, m)
				}
			}
		}
		seats = append(seats, s)
	}
	return seats, ""
}

// ChangeRuleView is a rule with its expiry as text.
type ChangeRuleView struct {
	approval.ChangeRule
	Expiry string `json:"expiry"`
	Stored bool   `json:"stored"` // false: the built-in default
}

func changeRuleView(r approval.ChangeRule, stored bool) ChangeRuleView {
	if r.Quorum == nil {
		r.Quorum = []approval.Need{}
	}
	return ChangeRuleView{ChangeRule: r, Expiry: r.Expiry.String(), Stored: stored}
}

// mayReadParty: a principal of the party, a deployment administrator, or an auditor.
func mayReadParty(tx store.Tx, a audit.Actor, partyID string) error {
	if partyID != party.Deployment {
		if _, err := tx.Parties().GetParty(partyID); err != nil {
			return err
		}
	}
	if a.PartyID == partyID || IsDeploymentAdmin(a) {
		return nil
	}
	if ok, err := IsAuditor(tx, a); err != nil || ok {
		return err
	}
	return failure.New(failure.NotFound, "party %s not found", partyID)
}

// mayGovernParty: an administrator of the party (a deployment administrator for the
// deployment's own rules) sets its change rules and approver groups.
func mayGovernParty(tx store.Tx, a audit.Actor, partyID string) error {
	if err := mayReadParty(tx, a, partyID); err != nil {
		return err
	}
	if !IsPartyAdmin(a, partyID) {
		return failure.New(failure.Denied, "only an administrator of party %s sets its change rules and approver groups", partyID)
	}
	return nil
}

// ChangeRules lists a party's rule of every change kind.
func (s *Service) ChangeRules(ctx context.Context, a audit.Actor, partyID string) ([]ChangeRuleView, error) {
	var out []ChangeRuleView
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = nil
		if err := mayReadParty(tx, a, partyID); err != nil {
			return err
		}
		for _, k := range approval.ChangeKinds {
			r, ok, err := tx.ChangeRules().ChangeRule(partyID, k)
			if err != nil {
				return err
			}
			if !ok {
				r = approval.DefaultChangeRule(partyID, k)
			}
			out = append(out, changeRuleView(r, ok))
		}
		return nil
	})
	return out, err
}

// ChangeRuleRequest sets a party's rule of one kind.
type ChangeRuleRequest struct {
	Quorum []approval.Need `json:"quorum"`
	Expiry string          `json:"expiry"` // Go duration; 72h when empty
	Reason string          `json:"reason,omitempty"`
}

// ChangeResult is a governed change: applied, or pending as Proposal.
type ChangeResult[T any] struct {
	Applied  *T
	Proposal *approval.Request
}

// SetChangeRule sets a party's rule of one kind; an administrator of the party may. The rule
// is validated strictly against the party's groups. The change is itself governed: under the
// party's approval-rule-change rule when one is stored, else under the rule it replaces. A
// proposal records the rule it replaces (quorum and expiry) as its base: once approved, it
// applies only if that is still the rule (CheckBase).
func (s *Service) SetChangeRule(ctx context.Context, a audit.Actor, partyID, kind string, r ChangeRuleRequest) (ChangeResult[ChangeRuleView], error) {
	return s.setChangeRule(ctx, a, partyID, kind, r, "")
}

func (s *Service) setChangeRule(ctx context.Context, a audit.Actor, partyID, kind string, r ChangeRuleRequest, approvalID string) (ChangeResult[ChangeRuleView], error) {
	var out ChangeResult[ChangeRuleView]
	k, err := approval.ParseChangeKind(kind)
	if err != nil {
		return out, err
	}
	exp := 72 * time.Hour
	if r.Expiry != "" {
		if exp, err = time.ParseDuration(r.Expiry); err != nil {
			return out, failure.New(failure.Invalid, "expiry %q is not a duration such as 72h", r.Expiry)
		}
	}
	if r.Quorum == nil {
		r.Quorum = []approval.Need{}
	}
	rule := approval.ChangeRule{PartyID: partyID, Kind: k, Quorum: r.Quorum, Expiry: exp}
	now := s.now()
	err = s.st.Update(ctx, func(tx store.Tx) error {
		out = ChangeResult[ChangeRuleView]{} // Update may run this function again: an earlier run's proposal or result is not this run's
		if err := mayGovernParty(tx, a, partyID); err != nil {
			return err
		}
		groups, err := tx.ChangeRules().ApproverGroups(partyID)
		if err != nil {
			return err
		}
		ps, err := tx.Parties().ListPrincipals(partyID)
		if err != nil {
			return err
		}
		if err := rule.Validate(groups, len(ps)); err != nil {
			return err
		}
		base, err := changeRuleBase(tx, partyID, k)
		if err != nil {
			return err
		}
		c := Change{Kind: approval.RuleChange, Scope: "party:" + partyID, Subject: "change-rule:" + partyID + "/" + string(k), Reason: r.Reason,
			Payload: map[string]any{"party": partyID, "kind": k, "rule": r}, ApprovalID: approvalID,
			Base: base, BaseWhat: "the " + string(k) + " rule of party " + partyID + ":"}
		if _, ok, err := tx.ChangeRules().ChangeRule(partyID, approval.RuleChange); err != nil {
			return err
		} else if !ok {
			cur, err := ChangeRuleFor(tx, partyID, k)
			if err != nil {
				return err
			}
			c.Rule = &cur
		}
		q, apply, err := Govern(tx, a, now, c)
		if err != nil || !apply {
			out.Proposal = &q
			return err
		}
		if err := tx.ChangeRules().SetChangeRule(rule, a.PrincipalID, now); err != nil {
			return err
		}
		v := changeRuleView(rule, true)
		out.Applied = &v
		_, err = tx.Audit().Append(Event(a, now, "change.rule.set", "", "party:"+partyID, c.Subject, v))
		return err
	})
	if err != nil {
		out.Proposal = nil
	}
	return out, err
}

// ApproverGroups lists a party's approver groups by name.
func (s *Service) ApproverGroups(ctx context.Context, a audit.Actor, partyID string) ([]approval.Group, error) {
	var out []approval.Group
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		out = nil
		if err := mayReadParty(tx, a, partyID); err != nil {
			return err
		}
		gs, err := tx.ChangeRules().ApproverGroups(partyID)
		for _, g := range gs {
			out = append(out, g)
		}
		slices.SortFunc(out, func(x, y approval.Group) int {
			if x.Name < y.Name {
				return -1
			}
			if x.Name > y.Name {
				return 1
			}
			return 0
		})
		return err
	})
	return out, err
}

// GroupRequest sets a group's members.
type GroupRequest struct {
	Members []string `json:"members"`
	Reason  string   `json:"reason,omitempty"`
}

// SetApproverGroup creates or replaces a party's approver group; an administrator of the party
// may. Every member must be a principal of the party; a group a rule uses cannot shrink below
// what the rule asks of it. The change is governed as an approval-rule-change, under the
// party's rule of that kind when stored, else under its policy-change rule. A proposal
// records the group's members (or "absent") as its base: once approved, it applies only if
// the group is still so (CheckBase).
func (s *Service) SetApproverGroup(ctx context.Context, a audit.Actor, partyID, name string, r GroupRequest) (ChangeResult[approval.Group], error) {
	return s.setApproverGroup(ctx, a, partyID, name, r, "")
}

func (s *Service) setApproverGroup(ctx context.Context, a audit.Actor, partyID, name string, r GroupRequest, approvalID string) (ChangeResult[approval.Group], error) {
	var out ChangeResult[approval.Group]
	if name == approval.AnyPrincipal {
		return out, failure.New(failure.Invalid, "%q is every other principal of the party, not a group name", name)
	}
	if err := party.ValidSlug("group name", name); err != nil {
		return out, err
	}
	if len(r.Members) == 0 || len(r.Members) > approval.MaxGroupMembers {
		return out, failure.New(failure.Invalid, "a group has between 1 and %d members", approval.MaxGroupMembers)
	}
	members := []string{}
	for _, m := range r.Members {
		if !slices.Contains(members, m) {
			members = append(members, m)
		}
	}
	g := approval.Group{PartyID: partyID, Name: name, Members: members}
	now := s.now()
	err := s.st.Update(ctx, func(tx store.Tx) error {
		out = ChangeResult[approval.Group]{} // Update may run this function again: an earlier run's proposal or result is not this run's
		if err := mayGovernParty(tx, a, partyID); err != nil {
			return err
		}
		for _, m := range members {
			p, err := tx.Parties().GetPrincipal(m)
			if err != nil || p.PartyID != partyID {
				return failure.New(failure.Invalid, "%s is not a principal of party %s", m, partyID)
			}
		}
		for _, k := range approval.ChangeKinds {
			rule, ok, err := tx.ChangeRules().ChangeRule(partyID, k)
			if err != nil {
				return err
			}
			for _, n := range rule.Quorum {
				if ok && n.Group == name && n.Approvals > len(members) {
					return failure.New(failure.Invalid, "the %s rule needs %d of %s: the group cannot have fewer members (n must not exceed m)", k, n.Approvals, name)
				}
			}
		}
		base, err := groupBase(tx, partyID, name)
		if err != nil {
			return err
		}
		c := Change{Kind: approval.RuleChange, Scope: "party:" + partyID, Subject: "approver-group:" + partyID + "/" + name, Reason: r.Reason,
			Payload: map[string]any{"party": partyID, "group": name, "members": members}, ApprovalID: approvalID,
			Base: base, BaseWhat: "approver group " + name + " of party " + partyID + ":"}
		if _, ok, err := tx.ChangeRules().ChangeRule(partyID, approval.RuleChange); err != nil {
			return err
		} else if !ok {
			cur, err := ChangeRuleFor(tx, partyID, approval.PolicyChange)
			if err != nil {
				return err
			}
			c.Rule = &cur
		}
		q, apply, err := Govern(tx, a, now, c)
		if err != nil || !apply {
			out.Proposal = &q
			return err
		}
		if err := tx.ChangeRules().SetApproverGroup(g, a.PrincipalID, now); err != nil {
			return err
		}
		out.Applied = &g
		_, err = tx.Audit().Append(Event(a, now, "change.group.set", "", "party:"+partyID, c.Subject, g))
		return err
	})
	if err != nil {
		out.Proposal = nil
	}
	return out, err
}
