package app

import (
	"testing"

	"github.com/hallmark-id/hallmark/api"
)

// setPolicy proposes a policy version as who, which (under the default rule: one other
// principal of the same party) waits for approval, and has approver approve it; it returns
// the answer to the approval. A policy that is refused when proposed (want not 202) returns
// that answer.
func (s *devServer) setPolicy(t *testing.T, who, approver, envID, kind string, spec any, want int) resp {
	t.Helper()
	r := s.must(t, want, who, "PUT", "/v1/environments/"+envID+"/policies/"+kind, spec)
	if want != 202 {
		return r
	}
	var q api.Approval
	r.json(t, &q)
	if q.State != "pending" || q.Kind != "policy-change" {
		t.Fatalf("policy change = %+v, want a pending policy-change", q)
	}
	d := s.must(t, 200, approver, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true, "comment": "reviewed"})
	var res api.DecideResult
	d.json(t, &res)
	if !res.Executed || res.Approval.State != "executed" {
		t.Fatalf("approved policy change did not apply: %+v", res)
	}
	return d
}
