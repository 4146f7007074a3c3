package governance_test

import (
	"errors"
	"testing"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
)

// TestGovernedDutyChange: a party's own rule makes its duty changes wait for 1 of its leads;
// the change applies only when a lead approves, as its proposer, and a principal outside the
// group cannot approve it.
func TestGovernedDutyChange(t *testing.T) {
	w := newWorld(t)
	// The proposer is a second administrator: acme's first one made alice, bob and carol, so
	// none of them could approve its changes (IndependentApprover; see TestApproverIndependence).
	p2, _, err0 := w.svc.CreatePrincipal(ctx, w.admins["acme"], governance.CreatePrincipalRequest{PartyID: "acme", Name: "admin2", Admin: true})
	if err0 != nil {
		t.Fatal(err0)
	}
	acmeAdmin := governance.Actor(p2)
	pendingOf := func(err error) approval.Request {
		t.Helper()
		var p *governance.Pending
		if !errors.As(err, &p) || p.Request.State != approval.Pending {
			t.Fatalf("got %v, want a pending proposal", err)
		}
		return p.Request
	}
	decide := func(who, id string) (governance.DecideResult, error) {
		return w.svc.Decide(ctx, w.actors[who], id, governance.Decision{Approve: true})
	}

	// A group change is decided under the party's policy-change rule: one other principal.
	res, err := w.svc.SetApproverGroup(ctx, acmeAdmin, "acme", "leads", governance.GroupRequest{Members: []string{w.actors["alice"].PrincipalID, w.actors["bob"].PrincipalID}})
	if err != nil || res.Proposal == nil || res.Applied != nil {
		t.Fatalf("group change = %+v, %v; want a proposal", res, err)
	}
	if r, err := decide("alice", res.Proposal.ID); err != nil || !r.Executed {
		t.Fatalf("approving the group: %+v, %v", r, err)
	}
	// Only an administrator of the party sets its rules; a rule naming no such group is refused.
	_, err = w.svc.SetChangeRule(ctx, w.actors["alice"], "acme", "duty-change", governance.ChangeRuleRequest{Quorum: []approval.Need{{Group: "leads", Approvals: 1}}})
	wantErr(t, err, failure.Denied, "administrator")
	_, err = w.svc.SetChangeRule(ctx, acmeAdmin, "acme", "duty-change", governance.ChangeRuleRequest{Quorum: []approval.Need{{Group: "leads", Approvals: 3}}})
	wantErr(t, err, failure.Invalid, "n must not exceed m")
	// The duty-change rule it replaces needs nobody: applied at once.
	rr, err := w.svc.SetChangeRule(ctx, acmeAdmin, "acme", "duty-change", governance.ChangeRuleRequest{Quorum: []approval.Need{{Group: "leads", Approvals: 1}}})
	if err != nil || rr.Applied == nil || !rr.Applied.Stored {
		t.Fatalf("setting the duty-change rule = %+v, %v", rr, err)
	}

	carol := w.actors["carol"].PrincipalID
	q := pendingOf(errOnly(w.svc.SetPrincipalDuties(ctx, acmeAdmin, carol, []string{"manufacturing/issue"})))
	if ds, err := w.svc.PrincipalDuties(ctx, acmeAdmin, carol); err != nil || len(ds) != 0 {
		t.Fatalf("a pending duty change applied: %v %v", ds, err)
	}
	_, err = decide("carol", q.ID)
	wantErr(t, err, failure.Denied, "no approver group")
	if r, err := decide("bob", q.ID); err != nil || !r.Executed || r.Request.Decisions[0].Group != "leads" {
		t.Fatalf("approving the duty change: %+v, %v", r, err)
	}
	if ds, err := w.svc.PrincipalDuties(ctx, acmeAdmin, carol); err != nil || len(ds) != 1 || ds[0].String() != "manufacturing/issue" {
		t.Fatalf("carol's duties after approval = %v %v", ds, err)
	}
	if e := w.lastEvent(t); e.Action != "principal.duties" {
		t.Errorf("last event %s, want the applied change", e.Action)
	}
}
