package governance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/governance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// request files a revoke-ca approval request of acme's, as alice, over acme's scope.
func (w *world) request(t *testing.T, subject string) approval.Request {
	t.Helper()
	var q approval.Request
	if err := w.st.Update(ctx, func(tx store.Tx) (err error) {
		q, err = governance.RequestApproval(tx, w.actors["alice"], w.clock.Now(), approval.RevokeCA, governance.ManufacturerChain("acme"), subject, "the key leaked", nil, map[string]string{"ca": subject})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestApprovalLifecycle: a revoke-ca request needs two approvers of the approving party, never
// its requester nor a stranger, nor anyone twice; once approved its executor runs as the
// requester and consumes it, and it cannot be used again.
func TestApprovalLifecycle(t *testing.T) {
	w := newWorld(t)
	var ran []string
	w.svc.OnApproved(approval.RevokeCA, func(ctx context.Context, requester audit.Actor, q approval.Request) error {
		ran = append(ran, requester.PrincipalID)
		return w.st.Update(ctx, func(tx store.Tx) error {
			_, err := governance.ConsumeApproval(tx, requester, w.clock.Now(), q.ID, approval.RevokeCA, q.Subject)
			return err
		})
	})
	q := w.request(t, "ca:ca1")
	if q.State != approval.Pending || q.ApproverParty != "acme" || q.Approvers != 2 || !q.ExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("request %+v: want pending, approved by acme, 2 approvers, 24h", q)
	}

	before := w.events(t)
	yes := governance.Decision{Approve: true, Comment: "confirmed"}
	wantErr(t, errOnly(w.svc.Decide(ctx, w.actors["alice"], q.ID, yes)), failure.Denied, "cannot decide it")
	wantErr(t, errOnly(w.svc.Decide(ctx, w.actors["oscar"], q.ID, yes)), failure.NotFound, "not found")
	wantErr(t, errOnly(w.svc.Decide(ctx, w.actors["audrey"], q.ID, yes)), failure.Denied, "is decided by party acme")
	wantErr(t, errOnly(w.svc.Execute(ctx, w.actors["alice"], q.ID)), failure.Conflict, "only an approved request")
	if got := w.events(t); got != before {
		t.Fatalf("refused decisions appended %d audit events", got-before)
	}

	res, err := w.svc.Decide(ctx, w.actors["bob"], q.ID, yes)
	if err != nil || res.Request.State != approval.Pending || res.Executed {
		t.Fatalf("bob's approval: %+v, %v; want still pending (one of two)", res, err)
	}
	wantErr(t, errOnly(w.svc.Decide(ctx, w.actors["bob"], q.ID, yes)), failure.Conflict, "already decided")
	res, err = w.svc.Decide(ctx, w.actors["carol"], q.ID, yes)
	if err != nil || !res.Executed || res.ExecError != "" || res.Request.State != approval.Executed {
		t.Fatalf("carol's approval: %+v, %v; want approved and executed", res, err)
	}
	if len(ran) != 1 || ran[0] != w.actors["alice"].PrincipalID {
		t.Fatalf("executor ran as %v, want once as alice", ran)
	}
	err = w.st.Update(ctx, func(tx store.Tx) error {
		_, err := governance.ConsumeApproval(tx, w.actors["alice"], w.clock.Now(), q.ID, approval.RevokeCA, q.Subject)
		return err
	})
	wantErr(t, err, failure.Conflict, "cannot be used")
	wantErr(t, errOnly(w.svc.Decide(ctx, w.actors["carol"], q.ID, yes)), failure.Conflict, "not pending")
}

// TestApprovalRefusalsAndEnds: a request is denied by one no, expires undecided, and is
// cancelled by its requester's party only; each end runs the kind's OnDenied hook.
func TestApprovalRefusalsAndEnds(t *testing.T) {
	w := newWorld(t)
	var ended []approval.State
	w.svc.OnDenied(approval.RevokeCA, func(_ context.Context, q approval.Request) error {
		ended = append(ended, q.State)
		return nil
	})

	denied := w.request(t, "ca:one")
	res, err := w.svc.Decide(ctx, w.actors["bob"], denied.ID, governance.Decision{Approve: false, Comment: "no"})
	if err != nil || res.Request.State != approval.Denied {
		t.Fatalf("a denial: %+v, %v", res, err)
	}

	cancelled := w.request(t, "ca:two")
	wantErr(t, errOnly(w.svc.Cancel(ctx, w.actors["cindy"], cancelled.ID)), failure.NotFound, "not found")
	if q, err := w.svc.Cancel(ctx, w.actors["bob"], cancelled.ID); err != nil || q.State != approval.Cancelled {
		t.Fatalf("acme cancelling its request: %+v, %v", q, err)
	}

	expiring := w.request(t, "ca:three")
	w.clock.Add(24*time.Hour + time.Second)
	wantErr(t, errOnly(w.svc.Decide(ctx, w.actors["bob"], expiring.ID, governance.Decision{Approve: true})), failure.Conflict, "expired")
	if q, err := w.svc.GetApproval(ctx, w.actors["alice"], expiring.ID); err != nil || q.State != approval.Expired {
		t.Fatalf("the expired request reads %+v, %v", q, err)
	}
	if len(ended) != 2 || ended[0] != approval.Denied || ended[1] != approval.Cancelled {
		t.Fatalf("OnDenied saw %v, want denied then cancelled", ended)
	}

	// The approve duty is checked as of the decision: a principal limited away from it since
	// the request was made may not decide.
	limited := w.request(t, "ca:four")
	if _, err := w.svc.SetPrincipalDuties(ctx, w.admins["acme"], w.actors["carol"].PrincipalID, []string{"manufacturing/issue"}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, errOnly(w.svc.Decide(ctx, w.actors["carol"], limited.ID, governance.Decision{Approve: true})), failure.Denied, "limited to manufacturing/issue")
	if q, _ := w.svc.GetApproval(ctx, w.actors["alice"], limited.ID); q.State != approval.Pending || len(q.Decisions) != 0 {
		t.Fatalf("a refused decision was recorded: %+v", q)
	}

	qs, err := w.svc.ListApprovals(ctx, w.actors["oscar"], store.ApprovalFilter{})
	if err != nil || len(qs) != 0 {
		t.Fatalf("op lists %d of acme's requests, %v; want none", len(qs), err)
	}
	qs, err = w.svc.ListApprovals(ctx, w.actors["audrey"], store.ApprovalFilter{})
	if err != nil || len(qs) != 4 {
		t.Fatalf("the auditor lists %d requests, %v; want 4", len(qs), err)
	}
}

// TestApprovalRules: administrators set rules within bounds; support grants always need
// another party; a new request takes the rule in force.
func TestApprovalRules(t *testing.T) {
	w := newWorld(t)
	one := governance.RuleRequest{Approvers: 1, Expiry: "2h"}
	wantErr(t, errOnly(w.svc.SetApprovalRule(ctx, w.actors["alice"], "revoke-ca", one)), failure.Denied, "administrator")
	wantErr(t, errOnly(w.svc.SetApprovalRule(ctx, admin, "launch", one)), failure.Invalid, "launch")
	wantErr(t, errOnly(w.svc.SetApprovalRule(ctx, admin, "revoke-ca", governance.RuleRequest{Approvers: 3, Expiry: "2h"})), failure.Invalid, "1 or 2")
	wantErr(t, errOnly(w.svc.SetApprovalRule(ctx, admin, "revoke-ca", governance.RuleRequest{Approvers: 1, Expiry: "soon"})), failure.Invalid, "not a duration")
	wantErr(t, errOnly(w.svc.SetApprovalRule(ctx, admin, "support-grant", one)), failure.Invalid, "another party")

	if v, err := w.svc.SetApprovalRule(ctx, admin, "revoke-ca", one); err != nil || !v.Stored || v.Approvers != 1 {
		t.Fatalf("SetApprovalRule = %+v, %v", v, err)
	}
	rules, err := w.svc.ApprovalRules(ctx)
	if err != nil || len(rules) != len(approval.Kinds) {
		t.Fatalf("ApprovalRules = %d, %v", len(rules), err)
	}
	q := w.request(t, "ca:ca1")
	if q.Approvers != 1 || !q.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("a new request has %d approvers until %s, want the new rule's 1 and 2h", q.Approvers, q.ExpiresAt)
	}
	res, err := w.svc.Decide(ctx, w.actors["bob"], q.ID, governance.Decision{Approve: true})
	if err != nil || res.Request.State != approval.Approved || res.Executed {
		t.Fatalf("one approval under the new rule: %+v, %v; want approved, no executor", res, err)
	}
}

// TestApprovedRequestLapses: an approved request whose action failed is set off again while it
// is fresh, but not after its ExecuteBy (as long after the approval as it had to be decided
// in): the action does not start, the refusal is recorded under approval:lapsed, the request
// reads expired, and its requester's party can no longer withdraw it.
func TestApprovedRequestLapses(t *testing.T) {
	w := newWorld(t)
	fail := true
	var ran int
	w.svc.OnApproved(approval.RevokeCA, func(ctx context.Context, requester audit.Actor, q approval.Request) error {
		ran++
		if fail {
			return failure.New(failure.Conflict, "the CA is busy")
		}
		return w.st.Update(ctx, func(tx store.Tx) error {
			_, err := governance.ConsumeApproval(tx, requester, w.clock.Now(), q.ID, approval.RevokeCA, q.Subject)
			return err
		})
	})
	approve := func(subject string) approval.Request {
		t.Helper()
		q := w.request(t, subject)
		yes := governance.Decision{Approve: true}
		if _, err := w.svc.Decide(ctx, w.actors["bob"], q.ID, yes); err != nil {
			t.Fatal(err)
		}
		res, err := w.svc.Decide(ctx, w.actors["carol"], q.ID, yes)
		if err != nil || res.Executed || res.Request.State != approval.Approved {
			t.Fatalf("approving %s: %+v, %v; want approved, its action failed", subject, res, err)
		}
		return res.Request
	}
	fresh := approve("ca:fresh")
	by, ok := fresh.ExecuteBy()
	if !ok || !by.Equal(w.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("ExecuteBy = %s, %v; want 24 h after the approval", by, ok)
	}
	w.clock.Add(23 * time.Hour)
	fail = false
	if res, err := w.svc.Execute(ctx, w.actors["alice"], fresh.ID); err != nil || !res.Executed || res.Request.State != approval.Executed {
		t.Fatalf("setting off a fresh approval again: %+v, %v", res, err)
	}

	fail = true
	stale := approve("ca:stale")
	w.clock.Add(24 * time.Hour)
	fail, ran = false, 0
	res, err := w.svc.Execute(ctx, w.actors["alice"], stale.ID)
	wantErr(t, err, failure.Conflict, "lapsed unused")
	if ran != 0 || res.Executed {
		t.Fatalf("a lapsed approval's action ran %d times (executed %v)", ran, res.Executed)
	}
	if ev := w.lastEvent(t); ev.Action != "approval.execute.refused" || !strings.Contains(string(ev.Detail), approval.RuleLapsed) {
		t.Fatalf("the refusal recorded %s %s; want approval.execute.refused naming %s", ev.Action, ev.Detail, approval.RuleLapsed)
	}
	if q, err := w.svc.GetApproval(ctx, w.actors["alice"], stale.ID); err != nil || q.State != approval.Expired || q.ExecutedAt != nil {
		t.Fatalf("the lapsed approval reads %+v, %v; want expired, never executed", q, err)
	}
	wantErr(t, errOnly(w.svc.Cancel(ctx, w.actors["alice"], stale.ID)), failure.Conflict, "expired")
	err = w.st.Update(ctx, func(tx store.Tx) error {
		_, err := governance.ConsumeApproval(tx, w.actors["alice"], w.clock.Now(), stale.ID, approval.RevokeCA, stale.Subject)
		return err
	})
	if failure.RuleOf(err) != approval.RuleLapsed {
		t.Fatalf("consuming a lapsed approval: %v; want %s", err, approval.RuleLapsed)
	}
}
