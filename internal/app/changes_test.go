package app

import (
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// TestGovernanceChangesUnderApproval (issue 17, point 2 and point 3's environment updates):
// one principal could set a renewal policy of its choosing, change an environment or its
// rules, with no approval. Now, through the API, on SQLite and PostgreSQL:
//   - a policy change waits for one other principal of the party (the default), is never
//     decided by its proposer nor by another party, and applies only when approved;
//   - a dry run names the devices a proposed policy would refuse at their next renewal, and
//     the rule;
//   - a waiver for one device and one rule is requested, approved, honoured at renewal (the
//     renewal is audited as waived), shown in the waivers report, and no longer honoured once
//     it expired;
//   - a party's rule can ask for n of m of named groups ("2 of security-leads and 1 of ops");
//     a bad rule is refused; an approver outside the groups is refused;
//   - an environment's lifetime and services are updated under the party's rule, audited.
func TestGovernanceChangesUnderApproval(t *testing.T) {
	requireTool(t, "openssl")
	t.Run("sqlite", func(t *testing.T) {
		var skew atomic.Int64
		s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
		governanceChanges(t, s, &skew)
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("HALLMARK_TEST_POSTGRES")
		if base == "" {
			t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES (.ci/run starts a server)")
		}
		t.Setenv("HALLMARK_TEST_DEV_DATABASE_URL", pgSchema(t))
		var skew atomic.Int64
		s := startDevOpts(t, Options{DevPostgresEnv: "HALLMARK_TEST_DEV_DATABASE_URL", Now: func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }})
		if !strings.HasPrefix(s.info.Database, "postgres") {
			t.Fatalf("dev.json names database %q, want the PostgreSQL store", s.info.Database)
		}
		governanceChanges(t, s, &skew)
	})
}

func governanceChanges(t *testing.T, s *devServer, skew *atomic.Int64) {
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-gov")
	envID := opEnv(t, s, "gov-env", nil)
	fi := deliveredDevice(t, s, dir, lotID, "lot-gov", "SN-GOV1")
	dev := fi.Device.ID
	onboard(t, s, dir, envID, "SN-GOV1", "g1", 201)
	goodFacts := map[string]any{"firmware_digest": strings.Repeat("0f", 32), "hardware_revision": "B"}
	renewalVersion := func() int {
		var v api.EnvironmentView
		s.must(t, 200, oscar, "GET", "/v1/environments/"+envID, nil).json(t, &v)
		return v.Renewal.Version
	}
	hwC := map[string]any{"rules": []map[string]string{
		{"name": "device-active", "expr": `device.state == "active"`},
		{"name": "hw-c", "expr": `facts.hardware_revision == "C"`, "message": "hardware revision C only"},
	}}

	// A policy change waits for one other principal of contoso.
	var q api.Approval
	s.must(t, 202, oscar, "PUT", "/v1/environments/"+envID+"/policies/renewal", hwC).json(t, &q)
	if q.Kind != "policy-change" || q.State != "pending" || q.ApproverParty != "contoso" || len(q.Quorum) != 1 || q.Quorum[0].Group != "*" || q.Quorum[0].Approvals != 1 {
		t.Fatalf("policy change = %+v, want pending on 1 of * of contoso", q)
	}
	if v := renewalVersion(); v != 1 {
		t.Fatalf("a pending policy applied: renewal v%d", v)
	}
	decide := func(who, id string, approve bool, want int) api.DecideResult {
		t.Helper()
		var res api.DecideResult
		r := s.must(t, want, who, "POST", "/v1/approvals/"+id+"/decision", map[string]any{"approve": approve})
		if want == 200 {
			r.json(t, &res)
		}
		return res
	}
	if p := s.must(t, 403, oscar, "POST", "/v1/approvals/"+q.ID+"/decision", map[string]any{"approve": true}).problem(t); !strings.Contains(p["detail"].(string), "cannot decide") {
		t.Errorf("self-approval refusal = %v", p)
	}
	decide(alice, q.ID, true, 404) // another party does not even see it
	if v := renewalVersion(); v != 1 {
		t.Fatalf("a refused decision applied the policy: renewal v%d", v)
	}
	if res := decide(olivia, q.ID, true, 200); !res.Executed || res.Approval.State != "executed" {
		t.Fatalf("approved policy change = %+v", res)
	}
	if v := renewalVersion(); v != 2 {
		t.Fatalf("approved policy change: renewal v%d, want 2", v)
	}
	actions := func() []string {
		var out []string
		for _, e := range auditEvents(t, s) {
			out = append(out, e.Action)
		}
		return out
	}
	for _, a := range []string{"change.propose", "approval.approve", "approval.execute", "policy.set"} {
		if !slices.Contains(actions(), a) {
			t.Errorf("no %s audit event", a)
		}
	}
	_, r := renew(t, s, dir, "g1", "g2", goodFacts, 403)
	if p := r.problem(t); !strings.Contains(p["detail"].(string), "hw-c") {
		t.Fatalf("renewal under the approved policy = %v, want a denial by hw-c", p)
	}

	// A dry run of a proposed policy names the device and the rule, page by page.
	dry := func(spec any, limit int) api.DryRunResult {
		t.Helper()
		var out api.DryRunResult
		s.must(t, 200, oscar, "POST", "/v1/environments/"+envID+"/policies/renewal/dry-run", map[string]any{"policy": spec, "limit": limit}).json(t, &out)
		return out
	}
	firmware := map[string]any{"rules": []map[string]string{{"name": "firmware-f0", "expr": `facts.firmware_digest == "` + strings.Repeat("f0", 32) + `"`}}}
	if d := dry(firmware, 0); d.Evaluated != 1 || len(d.Refused) != 1 || d.Refused[0].DeviceID != dev || d.Refused[0].Failed[0].Rule != "firmware-f0" {
		t.Fatalf("dry run = %+v, want %s refused by firmware-f0", d, dev)
	}
	if d := dry(map[string]any{"rules": []map[string]string{{"name": "ok", "expr": "true"}}}, 1); d.Evaluated != 1 || len(d.Refused) != 0 || d.Next != dev {
		t.Fatalf("dry run of a permissive policy = %+v", d)
	}
	s.must(t, 400, oscar, "POST", "/v1/environments/"+envID+"/policies/renewal/dry-run", map[string]any{"policy": firmware, "limit": 5000})
	s.must(t, 404, alice, "POST", "/v1/environments/"+envID+"/policies/renewal/dry-run", map[string]any{"policy": firmware})
	if v := renewalVersion(); v != 2 {
		t.Fatalf("a dry run stored a policy: renewal v%d", v)
	}

	// A waiver for the device and hw-c: requested, approved by another, honoured, reported.
	s.must(t, 400, oscar, "POST", "/v1/waivers", map[string]any{"device_id": dev, "rule": "no-such-rule", "reason": "r", "for": "1h"})
	s.must(t, 400, oscar, "POST", "/v1/waivers", map[string]any{"device_id": dev, "rule": "hw-c", "reason": "r", "for": "9000h"})
	var wq api.Approval
	s.must(t, 202, oscar, "POST", "/v1/waivers", map[string]any{"device_id": dev, "rule": "hw-c", "reason": "revision B boards until the swap", "for": "1h"}).json(t, &wq)
	decide(oscar, wq.ID, true, 403)
	var ws api.Page[api.Waiver]
	s.must(t, 200, oscar, "GET", "/v1/waivers?device="+dev, nil).json(t, &ws)
	if len(ws.Items) != 0 {
		t.Fatalf("a waiver exists before its approval: %+v", ws.Items)
	}
	_, r = renew(t, s, dir, "g1", "g2", goodFacts, 403) // not yet approved: not honoured
	if res := decide(olivia, wq.ID, true, 200); !res.Executed {
		t.Fatalf("approved waiver = %+v", res)
	}
	s.must(t, 200, audrey, "GET", "/v1/waivers?active=true", nil).json(t, &ws)
	if len(ws.Items) != 1 || ws.Items[0].DeviceID != dev || ws.Items[0].Rule != "hw-c" || !ws.Items[0].Active || ws.Items[0].ApprovalID != wq.ID {
		t.Fatalf("waivers report = %+v", ws.Items)
	}
	if d := dry(hwC, 0); len(d.Refused) != 0 {
		t.Fatalf("dry run ignores the waiver: %+v", d)
	}
	renew(t, s, dir, "g1", "g2", goodFacts, 201)
	honoured := 0
	for _, e := range auditEvents(t, s) {
		if e.Action == "waiver.honour" && e.Subject == "device:"+dev && strings.Contains(string(e.Detail), "hw-c") {
			honoured++
		}
	}
	if honoured != 1 {
		t.Fatalf("%d waiver.honour events, want 1", honoured)
	}
	// An hour and a minute later the waiver has expired by itself: hw-c denies again.
	skew.Store(int64(61 * time.Minute))
	_, r = renew(t, s, dir, "g2", "g3", goodFacts, 403)
	if p := r.problem(t); !strings.Contains(p["detail"].(string), "hw-c") {
		t.Fatalf("renewal after the waiver expired = %v, want a denial by hw-c", p)
	}
	s.must(t, 200, oscar, "GET", "/v1/waivers?active=true", nil).json(t, &ws)
	if len(ws.Items) != 0 {
		t.Fatalf("an expired waiver is listed as active: %+v", ws.Items)
	}
	s.must(t, 200, oscar, "GET", "/v1/waivers", nil).json(t, &ws)
	if len(ws.Items) != 1 || ws.Items[0].Active {
		t.Fatalf("waivers report after expiry = %+v", ws.Items)
	}

	// n of m: "2 of security-leads and 1 of ops". The proposer of the groups and rules is a
	// second administrator, gov: contoso's first administrator made olivia, who therefore may
	// not approve its changes (approval:independent-approver).
	gov, _ := addPrincipal(t, s, "contoso", "gov", true)
	ids := map[string]string{}
	for _, n := range []string{"lead1", "lead2", "lead3", "ops1"} {
		_, ids[n] = addPrincipal(t, s, "contoso", n, false)
	}
	group := func(name string, members ...string) {
		t.Helper()
		var ms []string
		for _, m := range members {
			ms = append(ms, ids[m])
		}
		var g api.Approval
		s.must(t, 202, gov, "PUT", "/v1/parties/contoso/approver-groups/"+name, map[string]any{"members": ms}).json(t, &g)
		decide(olivia, g.ID, true, 200)
	}
	group("security-leads", "lead1", "lead2", "lead3")
	group("ops", "ops1")
	var gs api.Page[api.ApproverGroup]
	s.must(t, 200, oscar, "GET", "/v1/parties/contoso/approver-groups", nil).json(t, &gs)
	if len(gs.Items) != 2 || len(gs.Items[1].Members) != 3 {
		t.Fatalf("groups = %+v", gs.Items)
	}
	rule := func(who string, want int, quorum ...map[string]any) resp {
		t.Helper()
		return s.must(t, want, who, "PUT", "/v1/parties/contoso/change-rules/policy-change", map[string]any{"quorum": quorum, "expiry": "24h"})
	}
	need := func(g string, n int) map[string]any { return map[string]any{"group": g, "approvals": n} }
	for _, bad := range []struct {
		want   int
		quorum []map[string]any
		detail string
	}{
		{400, []map[string]any{need("security-leads", 4)}, "n must not exceed m"},
		{400, []map[string]any{need("auditors", 1)}, "no approver group"},
		{400, []map[string]any{need("ops", 0)}, "between 1 and"},
		{400, []map[string]any{need("ops", 1), need("ops", 1)}, "twice"},
	} {
		if p := rule(gov, bad.want, bad.quorum...).problem(t); !strings.Contains(p["detail"].(string), bad.detail) {
			t.Errorf("bad rule %v: %v, want %q", bad.quorum, p, bad.detail)
		}
	}
	rule(oscar, 403, need("ops", 1)) // not an administrator
	var rq api.Approval
	rule(gov, 202, need("security-leads", 2), need("ops", 1)).json(t, &rq) // decided under the rule it replaces
	decide(gov, rq.ID, true, 403)
	decide(olivia, rq.ID, true, 200)
	var rules api.Page[api.ChangeRule]
	s.must(t, 200, audrey, "GET", "/v1/parties/contoso/change-rules", nil).json(t, &rules)
	if r := rules.Items[0]; r.Kind != "policy-change" || !r.Stored || len(r.Quorum) != 2 || r.Quorum[0].Approvals != 2 {
		t.Fatalf("policy-change rule = %+v", r)
	}

	var pq api.Approval
	s.must(t, 202, "contoso/lead1", "PUT", "/v1/environments/"+envID+"/policies/renewal", map[string]any{"rules": []map[string]string{{"name": "device-active", "expr": `device.state == "active"`}}}).json(t, &pq)
	if pq.Approvers != 3 || len(pq.Quorum) != 2 || len(pq.Quorum[0].Members) != 3 {
		t.Fatalf("policy change under 2 of security-leads and 1 of ops = %+v", pq)
	}
	decide("contoso/lead1", pq.ID, true, 403) // its proposer
	if p := s.must(t, 403, oscar, "POST", "/v1/approvals/"+pq.ID+"/decision", map[string]any{"approve": true}).problem(t); !strings.Contains(p["detail"].(string), "no approver group") {
		t.Errorf("approver outside the groups = %v", p)
	}
	decide("contoso/lead2", pq.ID, true, 200)
	decide("contoso/lead2", pq.ID, true, 409)
	if res := decide("contoso/ops1", pq.ID, true, 200); res.Approval.State != "pending" || renewalVersion() != 2 {
		t.Fatalf("after 1 of security-leads and 1 of ops: %+v, renewal v%d", res.Approval, renewalVersion())
	}
	if res := decide("contoso/lead3", pq.ID, true, 200); !res.Executed || renewalVersion() != 3 {
		t.Fatalf("after 2 of security-leads and 1 of ops: %+v, renewal v%d", res, renewalVersion())
	}

	// Environment updates: applied at once under the default rule, then under ops's approval.
	var env api.EnvironmentView
	s.must(t, 200, oscar, "PATCH", "/v1/environments/"+envID, map[string]any{"lifetime": "12h"}).json(t, &env)
	if time.Duration(env.Lifetime) != 12*time.Hour {
		t.Fatalf("updated lifetime = %v", time.Duration(env.Lifetime))
	}
	s.must(t, 400, oscar, "PATCH", "/v1/environments/"+envID, map[string]any{"lifetime": "1m"})
	s.must(t, 400, oscar, "PATCH", "/v1/environments/"+envID, map[string]any{"lifetime": "96h"}) // above max_age 72h
	s.must(t, 403, alice, "PATCH", "/v1/environments/"+envID, map[string]any{"lifetime": "6h"})
	s.must(t, 200, gov, "PUT", "/v1/parties/contoso/change-rules/environment-change", map[string]any{"quorum": []any{need("ops", 1)}})
	var eq api.Approval
	s.must(t, 202, oscar, "PATCH", "/v1/environments/"+envID, map[string]any{"services": []string{"telemetry", "scada"}}).json(t, &eq)
	decide(olivia, eq.ID, true, 403) // not in ops
	decide("contoso/ops1", eq.ID, true, 200)
	s.must(t, 200, oscar, "GET", "/v1/environments/"+envID, nil).json(t, &env)
	if !slices.Equal(env.Services, []string{"telemetry", "scada"}) || time.Duration(env.Lifetime) != 12*time.Hour {
		t.Fatalf("environment after the approved update = %+v", env.Environment)
	}
	updates := 0
	for _, e := range auditEvents(t, s) {
		if e.Action == "environment.update" && e.Subject == "environment:"+envID {
			updates++
		}
	}
	if updates != 2 {
		t.Errorf("%d environment.update events, want 2", updates)
	}
}
