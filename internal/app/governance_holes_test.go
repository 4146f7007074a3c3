package app

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// TestGovernancePuppetApprover: a party administrator could create a principal without
// approval and use it to approve its own governance change. Now, through the API, a decision
// by a principal the proposer made (or gave a token that still works), directly or through a
// principal it made, is refused with 403,
// naming the rule, and audited as a refusal; an independent principal's approval applies it.
func TestGovernancePuppetApprover(t *testing.T) {
	requireTool(t, "openssl")
	var skew atomic.Int64
	s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	envID := opEnv(t, s, "puppet-env", nil)
	version := func() int {
		var v api.EnvironmentView
		s.must(t, 200, oscar, "GET", "/v1/environments/"+envID, nil).json(t, &v)
		return v.Renewal.Version
	}
	// contoso's administrator makes a second administrator, lead; lead makes bob.
	lead, _ := addPrincipal(t, s, "contoso", "lead", true)
	var bob, carl struct{ ID, Token string }
	s.must(t, 201, lead, "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "bob", "admin": true}).json(t, &bob)
	s.tokens["contoso/bob"] = bob.Token
	// bob, an administrator lead made, makes carl: carl is lead's puppet too, one step removed.
	s.must(t, 201, "contoso/bob", "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "carl"}).json(t, &carl)
	s.tokens["contoso/carl"] = carl.Token

	var q api.Approval
	policy := map[string]any{"rules": []map[string]string{{"name": "ok", "expr": "true"}}}
	s.must(t, 202, lead, "PUT", "/v1/environments/"+envID+"/policies/renewal", policy).json(t, &q)
	p := s.must(t, 403, "contoso/bob", "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}).problem(t)
	if d, _ := p["detail"].(string); !strings.Contains(d, "approval:independent-approver") || !strings.Contains(d, "independent of the proposer") {
		t.Fatalf("bob's approval of lead's change = %v, want a refusal naming approval:independent-approver", p)
	}
	p = s.must(t, 403, "contoso/carl", "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}).problem(t)
	if d, _ := p["detail"].(string); !strings.Contains(d, carl.ID+" <- "+bob.ID+" <- ") {
		t.Fatalf("carl's approval of lead's change = %v, want a refusal naming the chain through bob", p)
	}
	if v := version(); v != 1 {
		t.Fatalf("a refused decision applied the policy: renewal v%d", v)
	}

	// A token lead mints for oscar makes oscar lead's puppet too, while it works.
	ids := principalIDs(t, s, "contoso")
	var nt struct{ Token string }
	s.must(t, 201, lead, "POST", "/v1/principals/"+ids[oscar]+"/tokens", map[string]any{"overlap": "0s"}).json(t, &nt)
	s.tokens[oscar] = nt.Token
	s.must(t, 403, oscar, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true})

	// olivia was made by contoso's first administrator, not by lead: her approval applies it.
	var res api.DecideResult
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}).json(t, &res)
	if !res.Executed || res.Approval.State != "executed" {
		t.Fatalf("olivia's approval = %+v", res)
	}
	if v := version(); v != 2 {
		t.Fatalf("approved policy change: renewal v%d, want 2", v)
	}

	// The refusals are audit events naming the rule.
	skew.Add(int64(61 * time.Second))
	var all api.RefusalReport
	waitFor(t, "the refusal events", func() bool {
		s.must(t, 200, audrey, "GET", "/v1/reports/refusals", nil).json(t, &all)
		n := 0
		for _, r := range all.Items {
			if r.Rule == "approval:independent-approver" {
				n++
			}
		}
		return n == 3
	})
}

// TestGovernanceStaleProposal: an approved old proposal applied over a newer policy version
// (or environment settings) with nothing checking what it was based on. Now two proposals
// made against the same base are both approved; the first applies, the second is refused at
// execution with a conflict naming approval:stale-base, stays approved and unexecuted (its
// execution answers 409), and the refusal is audited. Nothing of it applies.
func TestGovernanceStaleProposal(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	envID := opEnv(t, s, "stale-env", nil)
	env := func() api.EnvironmentView {
		var v api.EnvironmentView
		s.must(t, 200, oscar, "GET", "/v1/environments/"+envID, nil).json(t, &v)
		return v
	}
	approveStale := func(first, second api.Approval) {
		t.Helper()
		var res api.DecideResult
		s.must(t, 200, olivia, "POST", "/v1/approvals/"+first.ID+"/decision", map[string]any{"approve": true}).json(t, &res)
		if !res.Executed {
			t.Fatalf("first proposal = %+v", res)
		}
		s.must(t, 200, olivia, "POST", "/v1/approvals/"+second.ID+"/decision", map[string]any{"approve": true}).json(t, &res)
		if res.Executed || res.Approval.State != "approved" || !strings.Contains(res.ExecError, "approval:stale-base") {
			t.Fatalf("second proposal from the same base = %+v, want approved, unexecuted, refused by approval:stale-base", res)
		}
		p := s.must(t, 409, oscar, "POST", "/v1/approvals/"+second.ID+"/execute", nil).problem(t)
		if d, _ := p["detail"].(string); !strings.Contains(d, "proposed against") {
			t.Fatalf("executing the stale proposal = %v", p)
		}
		var q api.Approval
		s.must(t, 200, oscar, "GET", "/v1/approvals/"+second.ID, nil).json(t, &q)
		if q.State != "approved" || q.ExecutedAt != nil {
			t.Fatalf("stale proposal after its refusal = %+v", q)
		}
		n := 0
		for _, e := range auditEvents(t, s) {
			if e.Action == "approval.execute.refused" && strings.Contains(string(e.Detail), second.ID) && strings.Contains(string(e.Detail), "approval:stale-base") {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d approval.execute.refused events for %s, want 2 (the decision and the execute)", n, second.ID)
		}
	}

	// Policy versions: both proposed against v1.
	var p1, p2 api.Approval
	s.must(t, 202, oscar, "PUT", "/v1/environments/"+envID+"/policies/renewal", map[string]any{"rules": []map[string]string{{"name": "one", "expr": "true"}}}).json(t, &p1)
	s.must(t, 202, oscar, "PUT", "/v1/environments/"+envID+"/policies/renewal", map[string]any{"rules": []map[string]string{{"name": "two", "expr": "true"}}}).json(t, &p2)
	approveStale(p1, p2)
	if v := env().Renewal; v.Version != 2 || !strings.Contains(string(v.Spec), `"one"`) {
		t.Fatalf("renewal policy = v%d %s, want v2 of the first proposal", v.Version, v.Spec)
	}

	// Environment settings: both proposed against the same settings.
	s.must(t, 200, admin, "PUT", "/v1/parties/contoso/change-rules/environment-change", map[string]any{"quorum": []map[string]any{{"group": "*", "approvals": 1}}})
	var e1, e2 api.Approval
	s.must(t, 202, oscar, "PATCH", "/v1/environments/"+envID, map[string]any{"lifetime": "12h"}).json(t, &e1)
	s.must(t, 202, oscar, "PATCH", "/v1/environments/"+envID, map[string]any{"services": []string{"scada"}}).json(t, &e2)
	approveStale(e1, e2)
	if v := env(); time.Duration(v.Lifetime) != 12*time.Hour || len(v.Services) == 1 && v.Services[0] == "scada" {
		t.Fatalf("environment = %+v, want the first update only", v.Environment)
	}
}

// TestRevocationLotHiddenFromStrangers: a manufacturing revocation naming a lot answered
// "lot X is not a lot of Y" (400) to any caller, telling a stranger that the lot exists and who
// made it. Now a caller that may not see the lot (globex, a support vendor; contoso, which
// holds none of its devices) gets exactly the answer for a lot that does not exist, whatever
// manufacturer the selector names; the owner still gets the helpful 400.
func TestRevocationLotHiddenFromStrangers(t *testing.T) {
	s := startDev(t, "")
	lotID := demoLot(t, s, "lot-hidden")
	const missing = "lot_doesnotexist00"
	revoke := func(who string, want int, mfr, lot string) map[string]any {
		t.Helper()
		return s.must(t, want, who, "POST", "/v1/manufacturing/revocations", map[string]any{
			"selector": map[string]string{"manufacturer_id": mfr, "lot_id": lot}, "reason": "keyCompromise", "dry_run": true}).problem(t)
	}
	same := func(got, want map[string]any) bool {
		for _, k := range []string{"type", "title", "status"} {
			if got[k] != want[k] {
				return false
			}
		}
		g, _ := got["detail"].(string)
		w, _ := want["detail"].(string)
		return strings.ReplaceAll(g, lotID, missing) == w
	}
	for _, who := range []string{eve, oscar} {
		for _, mfr := range []string{"globex", "acme", "contoso"} {
			hidden, absent := revoke(who, 404, mfr, lotID), revoke(who, 404, mfr, missing)
			if !same(hidden, absent) {
				t.Errorf("%s naming acme's lot under %s: %v; a lot that does not exist: %v", who, mfr, hidden, absent)
			}
			if d, _ := hidden["detail"].(string); strings.Contains(d, "acme") {
				t.Errorf("%s is told who made the lot: %v", who, hidden)
			}
		}
	}
	// The owner, who sees the lot, is told what is wrong with its selector.
	if p := revoke(alice, 400, "globex", lotID); !strings.Contains(p["detail"].(string), "is not a lot of globex") {
		t.Errorf("the owner's selector naming another maker = %v", p)
	}
	if p := revoke(alice, 404, "acme", missing); !strings.Contains(p["detail"].(string), "not found") {
		t.Errorf("the owner naming a lot that does not exist = %v", p)
	}
}

// TestPuppetApproverOfOperationalRequest: the two-person rule of an operational request (here
// a whole-CA revocation, which needs two approvers) cannot be met by a principal the
// requester made: its decision is refused with 403 naming approval:independent-approver, and
// nothing runs; two independent approvers still run it.
func TestPuppetApproverOfOperationalRequest(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	var cas items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	caID := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			caID = c.ID
		}
	}
	// acme's administrator makes lead; lead makes pup, an administrator of acme too.
	lead, _ := addPrincipal(t, s, "acme", "lead", true)
	var pup struct{ ID, Token string }
	s.must(t, 201, lead, "POST", "/v1/principals", map[string]any{"party_id": "acme", "name": "pup", "admin": true}).json(t, &pup)
	s.tokens["acme/pup"] = pup.Token
	var res struct {
		Approval *api.Approval `json:"approval"`
	}
	s.must(t, 202, lead, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "issuing_ca_id": caID},
		"reason": "cACompromise", "dry_run": false}).json(t, &res)
	if res.Approval == nil {
		t.Fatal("the whole-CA revocation did not wait for approval")
	}
	p := s.must(t, 403, "acme/pup", "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true}).problem(t)
	if d, _ := p["detail"].(string); !strings.Contains(d, "approval:independent-approver") || !strings.Contains(d, pup.ID+" <- ") {
		t.Fatalf("pup's approval of lead's whole-CA revocation = %v, want a refusal naming approval:independent-approver", p)
	}
	var q api.Approval
	s.must(t, 200, alice, "GET", "/v1/approvals/"+res.Approval.ID, nil).json(t, &q)
	if q.State != "pending" || len(q.Decisions) != 0 {
		t.Fatalf("after the refused decision the request is %s with %d decisions, want pending with none", q.State, len(q.Decisions))
	}
	s.must(t, 200, bob, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true})
	var dec api.DecideResult
	s.must(t, 200, carol, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true}).json(t, &dec)
	if !dec.Executed {
		t.Fatalf("two independent approvals: %+v", dec)
	}
}
