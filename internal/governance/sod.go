package governance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Separation of duties works at two levels. The ownership matrix says which party owns a duty;
// a principal may additionally be limited to some of its party's duties. A rule names two
// duties (stage/duty pairs) that no one principal may hold over one scope. A principal holds
// a duty over a scope when its party owns that duty over the scope or an enclosing one and the
// principal is not limited to other duties. Rules are checked on every authorised action
// (Require) and on every change of the matrix or of a principal's duties. Approvals add the
// per-request rule that the requester never decides.

// SoDConflictError says which rule an action or a change would break.
type SoDConflictError struct {
	Rule        string
	PrincipalID string
	PartyID     string
	Held, Other ownership.Pair
	Scope       ownership.Scope
}

func (e *SoDConflictError) Error() string {
	return fmt.Sprintf("separation of duties (rule %s): principal %s of party %s would hold both %s and %s over %s; limit the principal's duties or give one duty to another party",
		e.Rule, e.PrincipalID, e.PartyID, e.Held, e.Other, e.Scope)
}

// FailureKind classifies the error.
func (e *SoDConflictError) FailureKind() failure.Kind { return failure.Denied }

// FailureRule names the separation-of-duties rule: "sod:<rule>".
func (e *SoDConflictError) FailureRule() string { return "sod:" + e.Rule }

// systemPrincipal reports whether id is one of Hallmark's own actors ("hallmark:status"),
// which hold no duties of their own.
func systemPrincipal(id string) bool { return strings.HasPrefix(id, "hallmark:") }

// withDeployment appends the deployment scope, which encloses every other.
func withDeployment(chain ownership.Chain) ownership.Chain {
	if len(chain) > 0 && chain[len(chain)-1] == ownership.DeploymentScope {
		return chain
	}
	return append(slices.Clip(chain), ownership.DeploymentScope)
}

// checkPrincipal enforces, for an action the actor's party may do, that the principal is not
// limited away from the duty and that it does not hold a duty that a rule keeps apart from it
// over the same scope.
func checkPrincipal(tx store.Tx, a audit.Actor, stage ownership.Stage, duty ownership.Duty, chain ownership.Chain) error {
	if systemPrincipal(a.PrincipalID) {
		return nil
	}
	use := ownership.Pair{Stage: stage, Duty: duty}
	limited, err := checkLimit(tx, a, use)
	if err != nil {
		return err
	}
	rules, err := tx.Duties().ListSoDRules()
	if err != nil {
		return fmt.Errorf("reading separation-of-duties rules: %w", err)
	}
	for _, r := range rules {
		other, ok := counterpart(r, use)
		if !ok {
			continue
		}
		if len(limited) > 0 && !slices.Contains(limited, other) {
			continue
		}
		owns, err := partyOwns(tx, a.PartyID, other, withDeployment(chain))
		if err != nil {
			return err
		}
		if owns {
			return &SoDConflictError{Rule: r.ID, PrincipalID: a.PrincipalID, PartyID: a.PartyID, Held: use, Other: other, Scope: chain[0]}
		}
	}
	return nil
}

// checkLimit refuses a principal limited to duties other than use, and returns its limits.
func checkLimit(tx store.Tx, a audit.Actor, use ownership.Pair) ([]ownership.Pair, error) {
	limited, err := tx.Duties().PrincipalDuties(a.PrincipalID)
	if err != nil {
		return nil, fmt.Errorf("reading the principal's duties: %w", err)
	}
	if len(limited) > 0 && !slices.Contains(limited, use) {
		return nil, failure.New(failure.Denied, "principal %s is limited to %s, not %s", a.PrincipalID, pairs(limited), use)
	}
	return limited, nil
}

// CustodyTransfer is the duty of offering, accepting, refusing and cancelling custody
// transfers. The ownership matrix does not hold it (custody follows who holds a device), so
// every principal of the holding or receiving party has it, unless the principal is limited
// to other duties: a limited principal transfers custody only when its limits name
// custody/transfer.
var CustodyTransfer = ownership.Pair{Stage: "custody", Duty: "transfer"}

// RequireCustody checks that the actor's principal may use CustodyTransfer: it is not
// limited to other duties. The custody service checks, besides, that its party holds the
// devices or receives them.
func RequireCustody(tx store.Tx, a audit.Actor) error {
	if systemPrincipal(a.PrincipalID) {
		return nil
	}
	_, err := checkLimit(tx, a, CustodyTransfer)
	return err
}

// ParseDutyLimit reads a duty a principal may be limited to: stage/duty of the ownership
// matrix (ownership.ParsePair), or custody/transfer.
func ParseDutyLimit(s string) (ownership.Pair, error) {
	if s == CustodyTransfer.String() {
		return CustodyTransfer, nil
	}
	p, err := ownership.ParsePair(s)
	if err != nil {
		return p, failure.Wrap(failure.Invalid, err, fmt.Sprintf("duty %q: use stage/duty (e.g. operational/issue) or custody/transfer", s))
	}
	return p, nil
}

func counterpart(r store.SoDRule, p ownership.Pair) (ownership.Pair, bool) {
	switch p {
	case r.A:
		return r.B, true
	case r.B:
		return r.A, true
	}
	return ownership.Pair{}, false
}

// partyOwns reports whether partyID owns the pair over the chain (the most specific cell wins).
func partyOwns(tx store.Tx, partyID string, p ownership.Pair, chain ownership.Chain) (bool, error) {
	var lookupErr error
	owner, _, ok := ownership.Resolve(p.Stage, p.Duty, chain, func(k ownership.Key) (string, bool) {
		o, found, err := tx.Ownership().Owner(k)
		if err != nil && lookupErr == nil {
			lookupErr = err
		}
		return o, found
	})
	if lookupErr != nil {
		return false, fmt.Errorf("reading the ownership matrix: %w", lookupErr)
	}
	return ok && owner == partyID, nil
}

func pairs(ps []ownership.Pair) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// checkParty looks for a principal of partyID that would hold both sides of a rule over one
// scope, given the matrix as it is in tx. It is run after a change of the matrix or of a
// principal's duties, inside the same transaction, so a refused change is rolled back.
func checkParty(tx store.Tx, partyID string) error {
	rules, err := tx.Duties().ListSoDRules()
	if err != nil || len(rules) == 0 {
		return err
	}
	cells, err := tx.Ownership().ListCells()
	if err != nil {
		return err
	}
	principals, err := tx.Parties().ListPrincipals(partyID)
	if err != nil {
		return err
	}
	chains := map[ownership.Scope]ownership.Chain{}
	chainOf := func(s ownership.Scope) (ownership.Chain, error) {
		if c, ok := chains[s]; ok {
			return c, nil
		}
		c, err := scopeChain(tx, s)
		if err != nil {
			return nil, err
		}
		c = withDeployment(c)
		chains[s] = c
		return c, nil
	}
	for _, r := range rules {
		for _, ca := range cells {
			if ca.PartyID != partyID || (ownership.Pair{Stage: ca.Stage, Duty: ca.Duty}) != r.A {
				continue
			}
			for _, cb := range cells {
				if cb.PartyID != partyID || (ownership.Pair{Stage: cb.Stage, Duty: cb.Duty}) != r.B {
					continue
				}
				overlap, err := overlaps(chainOf, ca.Scope, cb.Scope)
				if err != nil {
					return err
				}
				if !overlap {
					continue
				}
				for _, p := range principals {
					if err := principalHoldsBoth(tx, p, r, ca.Scope); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func principalHoldsBoth(tx store.Tx, p party.Principal, r store.SoDRule, at ownership.Scope) error {
	limited, err := tx.Duties().PrincipalDuties(p.ID)
	if err != nil {
		return err
	}
	if len(limited) == 0 || (slices.Contains(limited, r.A) && slices.Contains(limited, r.B)) {
		return &SoDConflictError{Rule: r.ID, PrincipalID: p.ID, PartyID: p.PartyID, Held: r.A, Other: r.B, Scope: at}
	}
	return nil
}

// overlaps reports whether two scopes are on one chain (one encloses the other).
func overlaps(chainOf func(ownership.Scope) (ownership.Chain, error), a, b ownership.Scope) (bool, error) {
	ca, err := chainOf(a)
	if err != nil {
		return false, err
	}
	if slices.Contains(ca, b) {
		return true, nil
	}
	cb, err := chainOf(b)
	if err != nil {
		return false, err
	}
	return slices.Contains(cb, a), nil
}

// SoDRule is a separation-of-duties rule as SoDRules and AddSoDRule return it (the store's
// value, named here for the service's callers).
type SoDRule = store.SoDRule

// SoDRules lists the separation-of-duties rules.
func (s *Service) SoDRules(ctx context.Context) ([]store.SoDRule, error) {
	var out []store.SoDRule
	err := s.st.View(ctx, func(tx store.Tx) (err error) { out, err = tx.Duties().ListSoDRules(); return err })
	return out, err
}

// SoDRuleRequest adds a rule.
type SoDRuleRequest struct {
	ID string `json:"id"`
	A  string `json:"a"` // stage/duty
	B  string `json:"b"`
}

// AddSoDRule adds a rule; administrators only. It is refused when a principal would already
// break it, so a rule never starts life broken.
// The change is governed (changes.go) under the actor's party's sod-change rule. A proposal
// records the rule as it is (its two duties, or "absent") as its base: once approved, it
// applies only if the rule is still so (CheckBase), like every governed change of a rule.
func (s *Service) AddSoDRule(ctx context.Context, a audit.Actor, r SoDRuleRequest) (store.SoDRule, error) {
	out, q, err := s.addSoDRule(ctx, a, r, "")
	return out, pendingErr(q, err)
}

func (s *Service) addSoDRule(ctx context.Context, a audit.Actor, r SoDRuleRequest, approvalID string) (store.SoDRule, *approval.Request, error) {
	out, pending, err := s.addSoDRuleTx(ctx, a, r, approvalID)
	q, err := pendingOf(pending, err)
	return out, q, err
}

func (s *Service) addSoDRuleTx(ctx context.Context, a audit.Actor, r SoDRuleRequest, approvalID string) (store.SoDRule, *approval.Request, error) {
	var out store.SoDRule
	var pending *approval.Request
	if err := RequireAdmin(a, "changing separation-of-duties rules"); err != nil {
		return out, nil, err
	}
	if err := party.ValidSlug("rule id", r.ID); err != nil {
		return out, nil, err
	}
	pa, err := ownership.ParsePair(r.A)
	if err != nil {
		return out, nil, err
	}
	pb, err := ownership.ParsePair(r.B)
	if err != nil {
		return out, nil, err
	}
	if pa == pb {
		return out, nil, failure.New(failure.Invalid, "a rule keeps two different duties apart, not %s from itself", pa)
	}
	now := s.now()
	out = store.SoDRule{ID: r.ID, A: pa, B: pb, By: a.PrincipalID, At: now}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		pending = nil // Update may run this function again: a proposal of an earlier run is not this run's
		rules, err := tx.Duties().ListSoDRules()
		if err != nil {
			return fmt.Errorf("reading separation-of-duties rules: %w", err)
		}
		q, apply, err := Govern(tx, a, now, Change{Kind: approval.SoDChange, Scope: "", Subject: "sod-rule:" + r.ID, Payload: map[string]any{"add": r}, ApprovalID: approvalID,
			Base: sodRuleBase(rules, r.ID), BaseWhat: "separation-of-duties rule " + r.ID + ":"})
		if err != nil || !apply {
			pending = &q
			return err
		}
		if err := tx.Duties().CreateSoDRule(out); err != nil {
			if failure.Is(err, failure.Conflict) {
				return failure.New(failure.Conflict, "a rule with id %q exists", r.ID)
			}
			return err
		}
		ps, err := tx.Parties().ListParties()
		if err != nil {
			return err
		}
		for _, p := range ps {
			if err := checkParty(tx, p.ID); err != nil {
				return err
			}
		}
		_, err = tx.Audit().Append(Event(a, now, "sod.rule.add", "", "", "sod-rule:"+r.ID, out))
		return err
	})
	return out, pending, err
}

// DeleteSoDRule removes a rule; administrators only.
// The change is governed like AddSoDRule's.
func (s *Service) DeleteSoDRule(ctx context.Context, a audit.Actor, id string) error {
	return pendingErr(s.deleteSoDRule(ctx, a, id, "", ""))
}

func (s *Service) deleteSoDRule(ctx context.Context, a audit.Actor, id, reason, approvalID string) (*approval.Request, error) {
	if err := RequireAdmin(a, "changing separation-of-duties rules"); err != nil {
		return nil, err
	}
	now := s.now()
	var pending *approval.Request
	err := s.st.Update(ctx, func(tx store.Tx) error {
		pending = nil // Update may run this function again: a proposal of an earlier run is not this run's
		rules, err := tx.Duties().ListSoDRules()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(rules, func(r store.SoDRule) bool { return r.ID == id }) {
			return failure.New(failure.NotFound, "no separation-of-duties rule %q", id)
		}
		q, apply, err := Govern(tx, a, now, Change{Kind: approval.SoDChange, Subject: "sod-rule:" + id, Reason: reason, Payload: map[string]any{"delete": id}, ApprovalID: approvalID,
			Base: sodRuleBase(rules, id), BaseWhat: "separation-of-duties rule " + id + ":"})
		if err != nil || !apply {
			pending = &q
			return err
		}
		if err := tx.Duties().DeleteSoDRule(id); err != nil {
			return err
		}
		_, err = tx.Audit().Append(Event(a, now, "sod.rule.delete", "", "", "sod-rule:"+id, nil))
		return err
	})
	return pendingOf(pending, err)
}

// PrincipalDuties returns the duties a principal is limited to (none: all its party's).
func (s *Service) PrincipalDuties(ctx context.Context, a audit.Actor, principalID string) ([]ownership.Pair, error) {
	var out []ownership.Pair
	err := s.st.View(ctx, func(tx store.Tx) error {
		p, err := principalOf(tx, principalID)
		if err != nil {
			return err
		}
		if ok, err := maySee(tx, a, p.PartyID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "principal %s not found", principalID)
		}
		out, err = tx.Duties().PrincipalDuties(principalID)
		return err
	})
	return out, err
}

// SetPrincipalDuties limits a principal to some of its party's duties, or to custody/transfer
// (an empty list lifts the limit). Only an administrator of the principal's party may (or a
// deployment administrator under break-glass, access.go), and never over its own limits.
// The change is refused when it would break a separation-of-duties rule, and it is audited
// (principal.duties) with the limits before and after.
//
// The change is governed (changes.go) under the actor's party's duty-change rule. A proposal
// records the principal's limits as they are as its base: once approved, it applies only if
// they are still so (CheckBase).
func (s *Service) SetPrincipalDuties(ctx context.Context, a audit.Actor, principalID string, duties []string) ([]ownership.Pair, error) {
	ps, q, err := s.setPrincipalDuties(ctx, a, principalID, duties, "", "")
	return ps, pendingErr(q, err)
}

func (s *Service) setPrincipalDuties(ctx context.Context, a audit.Actor, principalID string, duties []string, reason, approvalID string) ([]ownership.Pair, *approval.Request, error) {
	ps := []ownership.Pair{}
	for _, d := range duties {
		p, err := ParseDutyLimit(d)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	now := s.now()
	var pending *approval.Request
	err := s.st.Update(ctx, func(tx store.Tx) error {
		pending = nil // Update may run this function again: a proposal of an earlier run is not this run's
		p, err := principalOf(tx, principalID)
		if err != nil {
			return err
		}
		au, err := mayLimit(tx, a, p, now)
		if err != nil {
			return err
		}
		base, err := dutiesBase(tx, principalID)
		if err != nil {
			return err
		}
		q, apply, err := Govern(tx, a, now, Change{Kind: approval.DutyChange, Scope: "party:" + p.PartyID, Subject: "principal:" + principalID, Reason: reason,
			Payload: map[string]any{"principal": principalID, "duties": duties}, ApprovalID: approvalID, Base: base, BaseWhat: "the duties of principal " + principalID + ":"})
		if err != nil || !apply {
			pending = &q
			return err
		}
		before, err := tx.Duties().PrincipalDuties(principalID)
		if err != nil {
			return fmt.Errorf("reading the principal's duties: %w", err)
		}
		if err := tx.Duties().SetPrincipalDuties(principalID, ps); err != nil {
			return err
		}
		if err := checkParty(tx, p.PartyID); err != nil {
			return err
		}
		if before == nil {
			before = []ownership.Pair{}
		}
		_, err = tx.Audit().Append(Event(a, now, "principal.duties", "", "party:"+p.PartyID, "principal:"+principalID,
			au.detail(map[string]any{"duties": ps, "before": before, "admin": p.Admin})))
		return err
	})
	q, err := pendingOf(pending, err)
	return ps, q, err
}

// mayLimit says whether actor a may change the duty limits of principal p: an administrator of
// p's party (or a deployment administrator under break-glass), never p itself. A deployment
// administrator has no duties to limit.
func mayLimit(tx store.Tx, a audit.Actor, p party.Principal, now time.Time) (authority, error) {
	if p.PartyID == party.Deployment {
		return authority{}, failure.New(failure.Invalid, "principal %s is a deployment administrator, which holds no party's duties", p.ID)
	}
	if a.PrincipalID == p.ID {
		return authority{}, failure.New(failure.Denied, "a principal cannot change its own duties, administrators included: ask another administrator")
	}
	au, err := manages(tx, a, p.PartyID, now)
	if err != nil {
		return au, err
	}
	if !au.ok {
		if !IsDeploymentAdmin(a) && a.PartyID != p.PartyID {
			return au, failure.New(failure.Denied, "only an administrator of party %s may change the duties of principal %s", p.PartyID, p.ID)
		}
		return au, deniedManage(a, p.PartyID, "changing the duties of a principal")
	}
	return au, nil
}

func principalOf(tx store.Tx, id string) (party.Principal, error) {
	p, err := tx.Parties().GetPrincipal(id)
	if err != nil && failure.Is(err, failure.NotFound) {
		return p, failure.New(failure.NotFound, "principal %s not found", id)
	}
	return p, err
}
