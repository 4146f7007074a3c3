package app

import (
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/api"
)

// TestPuppetApproverAfterDeletion: deleting a principal in the middle of a lineage does not
// launder the principals below it. contoso's administrator makes lead; lead makes bob; bob
// makes carl; lead deletes bob. carl's approval of lead's policy change is still refused with
// 403 naming approval:independent-approver and the chain carl <- bob <- lead (bob's creator
// kept after its deletion), nothing applies, and olivia, whom lead did not make, approves it.
// Before the lineage outlived deletion, bob's deletion ended carl's lineage at bob and carl's
// approval applied the change.
func TestPuppetApproverAfterDeletion(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	envID := opEnv(t, s, "lineage-env", nil)
	version := func() int {
		var v api.EnvironmentView
		s.must(t, 200, oscar, "GET", "/v1/environments/"+envID, nil).json(t, &v)
		return v.Renewal.Version
	}
	lead, leadID := addPrincipal(t, s, "contoso", "lead", true)
	var bob, carl struct{ ID, Token string }
	s.must(t, 201, lead, "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "bob", "admin": true}).json(t, &bob)
	s.tokens["contoso/bob"] = bob.Token
	s.must(t, 201, "contoso/bob", "POST", "/v1/principals", map[string]any{"party_id": "contoso", "name": "carl"}).json(t, &carl)
	s.tokens["contoso/carl"] = carl.Token
	s.must(t, 204, lead, "DELETE", "/v1/principals/"+bob.ID, nil)
	s.must(t, 401, "contoso/bob", "GET", "/v1/approvals", nil)

	var q api.Approval
	policy := map[string]any{"rules": []map[string]string{{"name": "ok", "expr": "true"}}}
	s.must(t, 202, lead, "PUT", "/v1/environments/"+envID+"/policies/renewal", policy).json(t, &q)
	p := s.must(t, 403, "contoso/carl", "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}).problem(t)
	if d, _ := p["detail"].(string); !strings.Contains(d, "approval:independent-approver") || !strings.Contains(d, carl.ID+" <- "+bob.ID+" <- "+leadID) {
		t.Fatalf("carl's approval of lead's change after bob's deletion = %v, want a refusal naming approval:independent-approver and the chain through deleted bob", p)
	}
	var after api.Approval
	s.must(t, 200, olivia, "GET", "/v1/approvals/"+q.ID, nil).json(t, &after)
	if after.State != "pending" || len(after.Decisions) != 0 || version() != 1 {
		t.Fatalf("after the refused decision: request %s with %d decisions, renewal v%d; want pending, none, v1", after.State, len(after.Decisions), version())
	}

	var res api.DecideResult
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}).json(t, &res)
	if !res.Executed || res.Approval.State != "executed" || version() != 2 {
		t.Fatalf("olivia's approval = %+v, renewal v%d; want executed, v2", res, version())
	}
}
