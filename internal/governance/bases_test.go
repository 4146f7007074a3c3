package governance_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Stale bases (bases.go): a governance change approved after what it changes was changed
// another way is refused at execution with a conflict naming approval:stale-base, stays
// approved and unexecuted, is audited as approval.execute.refused, and changes nothing. The
// tests make two proposals against one base, or change the subject between proposal and
// approval, and approve the older proposal last.

// governed makes partyID's changes of kinds wait for one other principal of the party (set
// by admin, each applied at once: the rules they replace need nobody).
func (w *world) governed(t *testing.T, admin audit.Actor, partyID string, kinds ...approval.Kind) {
	t.Helper()
	for _, k := range kinds {
		r, err := w.svc.SetChangeRule(ctx, admin, partyID, string(k), governance.ChangeRuleRequest{Quorum: []approval.Need{{Group: approval.AnyPrincipal, Approvals: 1}}})
		if err != nil || r.Applied == nil {
			t.Fatalf("setting %s's %s rule: %+v, %v", partyID, k, r, err)
		}
	}
}

// proposer is a second administrator of partyID, made by its first one: the principals the
// first one made may approve its changes (IndependentApprover).
func (w *world) proposer(t *testing.T, partyID string) audit.Actor {
	t.Helper()
	p, _, err := w.svc.CreatePrincipal(ctx, w.admins[partyID], governance.CreatePrincipalRequest{PartyID: partyID, Name: "proposer", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	return governance.Actor(p)
}

// pending fails unless err is a committed proposal, and returns it.
func pending(t *testing.T, err error) approval.Request {
	t.Helper()
	var p *governance.Pending
	if !errors.As(err, &p) || p.Request.State != approval.Pending {
		t.Fatalf("got %v, want a pending proposal", err)
	}
	return p.Request
}

// approve approves id as by and fails unless the change was applied.
func (w *world) approve(t *testing.T, by audit.Actor, id string) {
	t.Helper()
	if r, err := w.svc.Decide(ctx, by, id, governance.Decision{Approve: true}); err != nil || !r.Executed {
		t.Fatalf("approving %s: %+v, %v", id, r, err)
	}
}

// approveStale approves id as by and fails unless its execution is refused as stale, the
// request stays approved, the refusal is audited naming the rule, and executing it again is
// refused the same way.
func (w *world) approveStale(t *testing.T, by audit.Actor, id string) {
	t.Helper()
	r, err := w.svc.Decide(ctx, by, id, governance.Decision{Approve: true})
	if err != nil || r.Executed || r.Request.State != approval.Approved || !strings.Contains(r.ExecError, governance.RuleStaleBase) {
		t.Fatalf("approving the stale %s = %+v, %v; want approved, unexecuted, refused by %s", id, r, err, governance.RuleStaleBase)
	}
	e := w.lastEvent(t)
	if e.Action != "approval.execute.refused" || !strings.Contains(string(e.Detail), id) || !strings.Contains(string(e.Detail), `"rule":"`+governance.RuleStaleBase+`"`) {
		t.Fatalf("last event %s %s, want approval.execute.refused of %s naming %s", e.Action, e.Detail, id, governance.RuleStaleBase)
	}
	_, err = w.svc.Execute(ctx, by, id)
	wantErr(t, err, failure.Conflict, governance.RuleStaleBase)
	if e := w.lastEvent(t); e.Action != "approval.execute.refused" {
		t.Fatalf("executing the stale %s again: last event %s, want its refusal", id, e.Action)
	}
}

// owner is who owns cell k in the matrix ("" for nobody).
func (w *world) owner(t *testing.T, k ownership.Key) string {
	t.Helper()
	var o string
	if err := w.st.View(ctx, func(tx store.Tx) (err error) { o, _, err = tx.Ownership().Owner(k); return err }); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestStaleCellChange: two proposals for one cell made against one owner; the first applies,
// the second is refused. A delete proposed against one owner is refused once the cell was
// given to another; proposed again against the current owner, it applies.
func TestStaleCellChange(t *testing.T) {
	w := newWorld(t)
	w.governed(t, w.admins["acme"], "acme", approval.OwnershipChange)
	acme := w.proposer(t, "acme")
	k := ownership.Key{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Lot, ID: "l1"}}
	cell := func(partyID string) ownership.Cell {
		return ownership.Cell{Stage: k.Stage, Duty: k.Duty, Scope: k.Scope, PartyID: partyID}
	}

	toCM := pending(t, w.svc.SetCell(ctx, acme, cell("cm")))
	toHQ := pending(t, w.svc.SetCell(ctx, acme, cell("hq")))
	if !strings.Contains(string(toCM.Payload), `"base":"absent"`) {
		t.Fatalf("the proposal's payload %s records no base", toCM.Payload)
	}
	w.approve(t, w.actors["alice"], toHQ.ID)
	w.approveStale(t, w.actors["alice"], toCM.ID)
	if o := w.owner(t, k); o != "hq" {
		t.Fatalf("cell %s is owned by %q after the stale proposal, want hq", k, o)
	}

	del := pending(t, w.svc.DeleteCell(ctx, acme, k))
	w.approve(t, w.actors["bob"], pending(t, w.svc.SetCell(ctx, acme, cell("cm"))).ID)
	w.approveStale(t, w.actors["alice"], del.ID)
	if o := w.owner(t, k); o != "cm" {
		t.Fatalf("cell %s is owned by %q after the stale delete, want cm", k, o)
	}
	// An approved request whose action did not run is withdrawn by its requester's party,
	// audited with the state it had; then it is not executed, and not cancelled twice.
	if q, err := w.svc.Cancel(ctx, acme, del.ID); err != nil || q.State != approval.Cancelled {
		t.Fatalf("cancelling the approved stale delete: %+v, %v; want cancelled", q, err)
	}
	if e := w.lastEvent(t); e.Action != "approval.cancel" || !strings.Contains(string(e.Detail), `"was":"approved"`) {
		t.Fatalf("last event %s %s, want approval.cancel of an approved request", e.Action, e.Detail)
	}
	if _, err := w.svc.Execute(ctx, acme, del.ID); !failure.Is(err, failure.Conflict) {
		t.Fatalf("executing the cancelled delete: %v, want a conflict", err)
	}
	if _, err := w.svc.Cancel(ctx, acme, del.ID); !failure.Is(err, failure.Conflict) {
		t.Fatalf("cancelling the cancelled delete again: %v, want a conflict", err)
	}
	w.approve(t, w.actors["alice"], pending(t, w.svc.DeleteCell(ctx, acme, k)).ID)
	if o := w.owner(t, k); o != "" {
		t.Fatalf("cell %s is owned by %q after the delete, want nobody", k, o)
	}
}

// deployment makes the deployment's changes of kinds wait for one other deployment
// administrator, and returns two: a proposer and an approver.
func (w *world) deployment(t *testing.T, kinds ...approval.Kind) (proposer, approver audit.Actor) {
	t.Helper()
	var ds []audit.Actor
	for _, name := range []string{"dep-1", "dep-2"} {
		p, _, err := w.svc.CreatePrincipal(ctx, admin, governance.CreatePrincipalRequest{PartyID: party.Deployment, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, governance.Actor(p))
	}
	w.governed(t, admin, party.Deployment, kinds...)
	return ds[0], ds[1]
}

// sodRule is the rule id as stored ("" when absent).
func (w *world) sodRule(t *testing.T, id string) string {
	t.Helper()
	rules, err := w.svc.SoDRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.ID == id {
			return r.A.String() + " vs " + r.B.String()
		}
	}
	return ""
}

// TestStaleSoDChange: a delete of a rule proposed against one rule is refused once the rule
// was deleted and added again with other duties (it would delete a rule its approvers never
// saw); an add proposed against an absent rule is refused once a rule of that id was added.
func TestStaleSoDChange(t *testing.T) {
	w := newWorld(t)
	r1 := governance.SoDRuleRequest{ID: "r1", A: "manufacturing/issue", B: "operational/issue"}
	if _, err := w.svc.AddSoDRule(ctx, admin, r1); err != nil {
		t.Fatal(err)
	}
	d1, d2 := w.deployment(t, approval.SoDChange)

	stale := pending(t, w.svc.DeleteSoDRule(ctx, d1, "r1"))
	w.approve(t, d2, pending(t, w.svc.DeleteSoDRule(ctx, d1, "r1")).ID)
	r1.B = "operational/revoke"
	w.approve(t, d2, pending(t, errOnly(w.svc.AddSoDRule(ctx, d1, r1))).ID)
	w.approveStale(t, d2, stale.ID)
	if got := w.sodRule(t, "r1"); got != "manufacturing/issue vs operational/revoke" {
		t.Fatalf("rule r1 after the stale delete = %q, want the newer rule", got)
	}

	r2 := governance.SoDRuleRequest{ID: "r2", A: "operational/issue", B: "support/issue"}
	stale = pending(t, errOnly(w.svc.AddSoDRule(ctx, d1, r2)))
	r2.B = "support/revoke"
	w.approve(t, d2, pending(t, errOnly(w.svc.AddSoDRule(ctx, d1, r2))).ID)
	w.approveStale(t, d2, stale.ID)
	if got := w.sodRule(t, "r2"); got != "operational/issue vs support/revoke" {
		t.Fatalf("rule r2 after the stale add = %q, want the one approved first", got)
	}
}

// TestStaleDutyChange: two proposals limiting one principal made against its unlimited
// duties; the first applies, the second is refused and the principal keeps the first's.
func TestStaleDutyChange(t *testing.T) {
	w := newWorld(t)
	w.governed(t, w.admins["acme"], "acme", approval.DutyChange)
	acme := w.proposer(t, "acme")
	carol := w.actors["carol"].PrincipalID

	stale := pending(t, errOnly(w.svc.SetPrincipalDuties(ctx, acme, carol, []string{"manufacturing/issue"})))
	w.approve(t, w.actors["alice"], pending(t, errOnly(w.svc.SetPrincipalDuties(ctx, acme, carol, []string{"manufacturing/revoke"}))).ID)
	w.approveStale(t, w.actors["bob"], stale.ID)
	if ds, err := w.svc.PrincipalDuties(ctx, acme, carol); err != nil || len(ds) != 1 || ds[0].String() != "manufacturing/revoke" {
		t.Fatalf("carol's duties after the stale proposal = %v, %v; want manufacturing/revoke", ds, err)
	}
}

// TestStaleRuleChange: approval rules and approver groups. Two proposals for one change rule,
// one approver group, one deployment approval rule, each made against one base: the first
// applies, the second is refused and the first's value stays.
func TestStaleRuleChange(t *testing.T) {
	w := newWorld(t)
	w.governed(t, w.admins["acme"], "acme", approval.RuleChange)
	acme := w.proposer(t, "acme")
	alice, bob, carol := w.actors["alice"], w.actors["bob"], w.actors["carol"]

	rule := func(n int) governance.ChangeRuleRequest {
		return governance.ChangeRuleRequest{Quorum: []approval.Need{{Group: approval.AnyPrincipal, Approvals: n}}}
	}
	res, err := w.svc.SetChangeRule(ctx, acme, "acme", string(approval.DutyChange), rule(1))
	if err != nil || res.Proposal == nil {
		t.Fatalf("proposing a rule: %+v, %v", res, err)
	}
	stale := *res.Proposal
	if res, err = w.svc.SetChangeRule(ctx, acme, "acme", string(approval.DutyChange), rule(2)); err != nil || res.Proposal == nil {
		t.Fatalf("proposing a rule: %+v, %v", res, err)
	}
	w.approve(t, alice, res.Proposal.ID)
	w.approveStale(t, bob, stale.ID)
	rules, err := w.svc.ChangeRules(ctx, acme, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Kind == approval.DutyChange && (len(r.Quorum) != 1 || r.Quorum[0].Approvals != 2) {
			t.Fatalf("acme's duty-change rule after the stale proposal = %+v, want 2 of *", r)
		}
	}

	group := func(members ...audit.Actor) governance.GroupRequest {
		var r governance.GroupRequest
		for _, m := range members {
			r.Members = append(r.Members, m.PrincipalID)
		}
		return r
	}
	gres, err := w.svc.SetApproverGroup(ctx, acme, "acme", "leads", group(alice, bob))
	if err != nil || gres.Proposal == nil {
		t.Fatalf("proposing a group: %+v, %v", gres, err)
	}
	stale = *gres.Proposal
	if gres, err = w.svc.SetApproverGroup(ctx, acme, "acme", "leads", group(alice, carol)); err != nil || gres.Proposal == nil {
		t.Fatalf("proposing a group: %+v, %v", gres, err)
	}
	w.approve(t, bob, gres.Proposal.ID)
	w.approveStale(t, carol, stale.ID)
	gs, err := w.svc.ApproverGroups(ctx, acme, "acme")
	if err != nil || len(gs) != 1 || strings.Join(gs[0].Members, ",") != alice.PrincipalID+","+carol.PrincipalID {
		t.Fatalf("acme's groups after the stale proposal = %+v, %v; want leads of alice and carol", gs, err)
	}

	d1, d2 := w.deployment(t, approval.RuleChange)
	staleRule := pending(t, errOnly(w.svc.SetApprovalRule(ctx, d1, string(approval.SupportGrant), governance.RuleRequest{Approvers: 1, OtherParty: true, Expiry: "24h"})))
	w.approve(t, d2, pending(t, errOnly(w.svc.SetApprovalRule(ctx, d1, string(approval.SupportGrant), governance.RuleRequest{Approvers: 2, OtherParty: true, Expiry: "48h"}))).ID)
	w.approveStale(t, d2, staleRule.ID)
	ars, err := w.svc.ApprovalRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ars {
		if r.Kind == approval.SupportGrant && (r.Approvers != 2 || r.Expiry != "48h0m0s") {
			t.Fatalf("the support-grant rule after the stale proposal = %+v, want 2 approvers for 48h", r)
		}
	}
}

// TestProposalWithoutBase: a proposal recorded before bases were (its payload has no "base")
// applies as it always did, even over a newer state.
func TestProposalWithoutBase(t *testing.T) {
	w := newWorld(t)
	w.governed(t, w.admins["acme"], "acme", approval.OwnershipChange)
	acme := w.proposer(t, "acme")
	k := ownership.Key{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Lot, ID: "l1"}}
	toCM := pending(t, w.svc.SetCell(ctx, acme, ownership.Cell{Stage: k.Stage, Duty: k.Duty, Scope: k.Scope, PartyID: "cm"}))
	// The same proposal as an older Hallmark stored it: the payload without its base.
	legacy := toCM
	legacy.ID = "apr-legacy"
	legacy.Payload = []byte(strings.Replace(string(toCM.Payload), `"base":"absent",`, "", 1))
	if string(legacy.Payload) == string(toCM.Payload) {
		t.Fatalf("payload %s has no base to drop", toCM.Payload)
	}
	w.seed(t, func(tx store.Tx) error { return tx.Approvals().CreateApproval(legacy) })

	w.approve(t, w.actors["alice"], pending(t, w.svc.SetCell(ctx, acme, ownership.Cell{Stage: k.Stage, Duty: k.Duty, Scope: k.Scope, PartyID: "hq"})).ID)
	w.approve(t, w.actors["alice"], legacy.ID)
	if o := w.owner(t, k); o != "cm" {
		t.Fatalf("cell %s is owned by %q after the proposal without base, want cm", k, o)
	}
	w.approveStale(t, w.actors["bob"], toCM.ID)
}
