package app

import (
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/api"
)

// TestGovernedCellsSoDAndDuties (issue 17, point 2): once a party sets its rule, an ownership
// cell, a separation-of-duties rule or a principal's duties changes only when another
// principal of the party approves it, through the API; until then nothing changed.
func TestGovernedCellsSoDAndDuties(t *testing.T) {
	s := startDev(t, "")
	envID := opEnv(t, s, "cells-env", nil)
	approve := func(who string, q api.Approval) {
		t.Helper()
		var res api.DecideResult
		s.must(t, 200, who, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}).json(t, &res)
		if !res.Executed {
			t.Fatalf("approved %s did not apply: %+v", q.Kind, res)
		}
	}
	anyOther := map[string]any{"quorum": []map[string]any{{"group": "*", "approvals": 1}}}

	// Ownership cells of contoso: an administrator proposes, olivia approves. It is a second
	// administrator, gov: the first one made olivia, so she may not approve its changes
	// (approval:independent-approver).
	gov, _ := addPrincipal(t, s, "contoso", "gov", true)
	s.must(t, 200, gov, "PUT", "/v1/parties/contoso/change-rules/ownership-change", anyOther)
	cell := map[string]any{"stage": "operational", "duty": "revoke", "scope": map[string]string{"kind": "environment", "id": envID}, "party_id": "contoso"}
	var q api.Approval
	s.must(t, 202, gov, "PUT", "/v1/ownership", cell).json(t, &q)
	if q.Kind != "ownership-change" || !strings.Contains(q.Subject, envID) {
		t.Fatalf("cell change = %+v", q)
	}
	if r := s.must(t, 200, oscar, "GET", "/v1/ownership", nil); strings.Contains(string(r.Body), envID) {
		t.Fatal("a pending cell change applied")
	}
	s.must(t, 403, gov, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true})
	approve(olivia, q)
	if r := s.must(t, 200, oscar, "GET", "/v1/ownership", nil); !strings.Contains(string(r.Body), envID) {
		t.Fatal("the approved cell is not in the matrix")
	}

	// Principal duties of contoso.
	s.must(t, 200, gov, "PUT", "/v1/parties/contoso/change-rules/duty-change", anyOther)
	ids := principalIDs(t, s, "contoso")
	s.must(t, 202, gov, "PUT", "/v1/principals/"+ids[oscar]+"/duties", map[string]any{"duties": []string{"operational/issue", "operational/renew"}}).json(t, &q)
	var duties api.Page[map[string]string]
	s.must(t, 200, gov, "GET", "/v1/principals/"+ids[oscar]+"/duties", nil).json(t, &duties)
	if len(duties.Items) != 0 {
		t.Fatalf("a pending duty change applied: %+v", duties.Items)
	}
	approve(olivia, q)
	s.must(t, 200, gov, "GET", "/v1/principals/"+ids[oscar]+"/duties", nil).json(t, &duties)
	if len(duties.Items) != 2 {
		t.Fatalf("duties after approval = %+v", duties.Items)
	}

	// Separation-of-duties rules are the deployment's: its rule needs a second administrator.
	s.must(t, 400, deployAdmin, "PUT", "/v1/parties/*/change-rules/sod-change", anyOther) // n > m: it has one administrator
	var root2 struct{ ID, Token string }
	s.must(t, 201, deployAdmin, "POST", "/v1/principals", map[string]any{"party_id": "*", "name": "root2", "admin": true}).json(t, &root2)
	s.tokens["*/root2"] = root2.Token
	s.must(t, 200, deployAdmin, "PUT", "/v1/parties/*/change-rules/sod-change", anyOther)
	rule := map[string]string{"id": "support-vs-audit", "a": "support/issue", "b": "operational/audit"}
	s.must(t, 202, "*/root2", "POST", "/v1/sod-rules", rule).json(t, &q) // root2 proposes: deployAdmin made it, so it may not approve deployAdmin's changes
	if r := s.must(t, 200, audrey, "GET", "/v1/sod-rules", nil); strings.Contains(string(r.Body), "support-vs-audit") {
		t.Fatalf("a pending SoD rule applied: %s", r.Body)
	}
	s.must(t, 404, oscar, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true})     // another party: not even seen
	s.must(t, 403, "*/root2", "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}) // its proposer
	approve(deployAdmin, q)
	if r := s.must(t, 200, audrey, "GET", "/v1/sod-rules", nil); !strings.Contains(string(r.Body), "support-vs-audit") {
		t.Fatal("the approved SoD rule is not listed")
	}
	// Deleting it is a change too.
	s.must(t, 202, "*/root2", "DELETE", "/v1/sod-rules/support-vs-audit", nil).json(t, &q)
	approve(deployAdmin, q)
	if r := s.must(t, 200, audrey, "GET", "/v1/sod-rules", nil); strings.Contains(string(r.Body), "support-vs-audit") {
		t.Fatal("the approved deletion left the rule")
	}
}
