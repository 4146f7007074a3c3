package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestReportFormats(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/reports/inventory": reply(200, `{"items":[{"device_id":"dev_1","serial":"SN-1","state":"active","custodian_id":"contoso","environment_id":"env_1",
			"factory":{"serial":"f1","state":"issued","not_after":"2040-01-01T00:00:00Z"},"operational":{"serial":"o1","state":"issued","not_after":"2026-01-02T00:00:00Z"}}]}`),
		"GET /v1/reports/expiring": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("within") != "24h0m0s" {
				t.Errorf("within = %q", r.URL.Query().Get("within"))
			}
			reply(200, `{"count":1,"within":"24h0m0s","groups":[{"environment_id":"env_1","operator_id":"contoso","items":[{"device_id":"dev_1","serial":"o1","not_after":"2026-01-02T00:00:00Z","remaining":"3h0m0s","device_state":"active"}]}]}`)(w, r)
		},
		"GET /v1/reports/rotation": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("since") != "" {
				if r.URL.Query().Get("since") != "720h0m0s" || r.URL.Query().Get("every") != "24h0m0s" {
					t.Errorf("trend query %q", r.URL.RawQuery)
				}
				reply(200, `{"trend":[{"at":"2026-01-01T00:00:00Z","active":4,"compliant":3,"share":0.75,"environments":[{"environment_id":"env_1","active":4,"compliant":3,"share":0.75}]}]}`)(w, r)
				return
			}
			reply(200, `{"active":2,"compliant":1,"share":0.5,"environments":[{"environment_id":"env_1","name":"plant","operator_id":"contoso","max_age":"72h0m0s","active":2,"compliant":1,"share":0.5}],
			"overdue":[{"device_id":"dev_2","environment_id":"env_1","serial":"o2","age":"80h0m0s","max_age":"72h0m0s"}]}`)(w, r)
		},
		"GET /v1/reports/summary": reply(200, `{"devices":3,"by_state":{"active":2,"registered":1},"active":2,"compliant":1,"share":0.5,"expiring_24h":1}`),
		"GET /v1/reports/drift": reply(200, `{"checked":2,"policy_checked":true,"policy_evaluated":2,"items":[],
			"policy":[{"device_id":"dev_1","environment_id":"env_1","policy_kind":"onboarding","admitted_version":1,"current_version":2,"admitted_at":"2026-01-01T00:00:00Z","failed":[{"rule":"hardware-c","message":"m"},{"rule":"fw","message":"m"}]}]}`),
		"GET /v1/reports/standards": problem(403, "denied", "the standards report is for auditors and administrators"),
	})
	code, out, stderr := run(t, append([]string{"report", "inventory"}, srv...)...)
	if code != 0 || !strings.Contains(out, "OPERATIONAL_SERIAL") || !strings.Contains(out, "dev_1") || !strings.Contains(out, "o1") {
		t.Fatalf("inventory table: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = run(t, append([]string{"report", "inventory", "--csv"}, srv...)...)
	if code != 0 || !strings.HasPrefix(out, "DEVICE,SERIAL,STATE,CUSTODIAN,ENVIRONMENT,FACTORY_SERIAL") || !strings.Contains(out, "dev_1,SN-1,active,contoso,env_1,F1,issued,2040-01-01T00:00:00Z,o1,") {
		t.Fatalf("inventory csv: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, append([]string{"report", "inventory", "-o", "json"}, srv...)...)
	var rows []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0]["device_id"] != "dev_1" {
		t.Fatalf("inventory json: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, append([]string{"report", "expiring", "--within", "24h", "-o", "id"}, srv...)...); code != 0 || out != "dev_1\n" {
		t.Fatalf("expiring id: exit %d %q", code, out)
	}
	if code, out, _ = run(t, append([]string{"report", "rotation"}, srv...)...); code != 0 || !strings.Contains(out, "50.0%") || !strings.Contains(out, "1 overdue") {
		t.Fatalf("rotation: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, append([]string{"report", "rotation", "--overdue", "--csv"}, srv...)...); code != 0 || !strings.Contains(out, "dev_2,env_1,o2,-,80h0m0s,72h0m0s") {
		t.Fatalf("rotation overdue csv: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, append([]string{"report", "rotation", "--since", "30d", "--every", "1d", "--csv"}, srv...)...); code != 0 ||
		out != "AT,ENVIRONMENT,ACTIVE,COMPLIANT,SHARE\n2026-01-01T00:00:00Z,all,4,3,75.0%\n2026-01-01T00:00:00Z,env_1,4,3,75.0%\n" {
		t.Fatalf("rotation trend csv: exit %d\n%s", code, out)
	}
	if code, _, _ = run(t, append([]string{"report", "rotation", "--since", "30d"}, srv...)...); code == 0 {
		t.Fatal("--since without --every was accepted")
	}
	if code, out, _ = run(t, append([]string{"report", "drift", "--policy", "--csv"}, srv...)...); code != 0 ||
		!strings.Contains(out, "dev_1,env_1,onboarding,1,2,hardware-c fw,2026-01-01T00:00:00Z") {
		t.Fatalf("drift --policy csv: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, append([]string{"report", "drift"}, srv...)...); code != 0 || !strings.Contains(out, "1 of 2 active devices") {
		t.Fatalf("drift table: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, append([]string{"report", "summary", "--csv"}, srv...)...); code != 0 || !strings.Contains(out, "state:active,2") || !strings.Contains(out, "expiring_24h,1") {
		t.Fatalf("summary csv: exit %d\n%s", code, out)
	}
	if code, _, stderr = run(t, append([]string{"report", "standards"}, srv...)...); code == 0 || !strings.Contains(stderr, "auditors") {
		t.Fatalf("standards as a non-auditor: exit %d %s", code, stderr)
	}
	if code, _, _ = run(t, append([]string{"report", "expiring", "--within", "-1h"}, srv...)...); code == 0 {
		t.Fatal("a negative --within was accepted")
	}
}

func TestReportGaps(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/reports/gaps": func(w http.ResponseWriter, r *http.Request) {
			if got := r.URL.Query().Get("idle"); got != "" && got != "30d" {
				t.Errorf("idle = %q", got)
			}
			reply(200, `{"idle_after":"720h0m0s","total":4,
				"unowned":[{"scope":"lot:lot_1","stage":"manufacturing","duty":"revoke"}],
				"devices_without_owner":[{"scope":"lot:lot_1","stage":"manufacturing","duty":"revoke","devices":2}],
				"lifetimes":[],"support_grants":[],
				"idle_principals":[{"principal_id":"prn_1","party_id":"northwind","name":"dana"}],
				"self_approval":[],
				"change_rules":[{"party_id":"contoso","kind":"policy-change","quorum":"1 of *","stored":false,"why":"too few others may approve"}]}`)(w, r)
		},
	})
	code, out, stderr := run(t, append([]string{"report", "gaps", "--idle", "30d"}, srv...)...)
	if code != 0 || !strings.Contains(out, "manufacturing/revoke has no owner") || !strings.Contains(out, "2 devices without a manufacturing/revoke owner") ||
		!strings.Contains(out, "dana: never used") || !strings.Contains(out, "policy-change needs 1 of *: too few others may approve") || !strings.Contains(out, "4 gaps") {
		t.Fatalf("gaps table: exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = run(t, append([]string{"report", "gaps", "--csv"}, srv...)...)
	if code != 0 || !strings.HasPrefix(out, "GAP,SCOPE,DETAIL,PARTY\nunowned,lot:lot_1,") || strings.Count(out, "\n") != 5 {
		t.Fatalf("gaps csv: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, append([]string{"report", "gaps", "extra"}, srv...)...); code != ExitUsage {
		t.Fatalf("an argument: exit %d", code)
	}
}

// TestReportsSayNoData: a report with nothing to count says so, instead of "0 of 0 compliant
// (100.0%)" (issue 17: 7).
func TestReportsSayNoData(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/reports/rotation": reply(200, `{"active":0,"compliant":0,"share":1,"environments":[{"environment_id":"env_1","name":"plant","operator_id":"contoso","max_age":"72h0m0s","active":0,"compliant":0,"share":1}],"overdue":[]}`),
		"GET /v1/reports/summary":  reply(200, `{"devices":1,"by_state":{"registered":1},"active":0,"compliant":0,"share":1,"expiring_24h":0}`),
		"GET /v1/reports/drift":    reply(200, `{"checked":0,"policy_checked":true,"policy_evaluated":0,"items":[],"policy":[]}`),
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "rotation"}, "overall: no data: no active operational identity"},
		{[]string{"report", "rotation", "--csv"}, "env_1,plant,contoso,72h0m0s,0,0,no data"},
		{[]string{"report", "summary", "--csv"}, "share,no data"},
		{[]string{"report", "drift"}, "policy: no data"},
	} {
		code, out, stderr := run(t, append(tc.args, srv...)...)
		if code != 0 || !strings.Contains(out, tc.want) || strings.Contains(out, "100.0%") || strings.Contains(out, "0 of 0") {
			t.Errorf("%v: exit %d, want %q and no 100.0%% or 0 of 0:\n%s%s", tc.args, code, tc.want, out, stderr)
		}
	}
}
