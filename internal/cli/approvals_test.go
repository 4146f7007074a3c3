package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const pendingReadmit = `{"id":"apr-1","kind":"readmit","state":"pending","requester_party":"contoso","requester_principal":"prn_oscar",
	"approver_party":"contoso","scope":"environment:env_1","subject":"device:dev_1","reason":"board replaced","approvers":1,"other_party":false,
	"decisions":[],"created_at":"2026-11-01T00:00:00Z","expires_at":"2026-11-04T00:00:00Z"}`

const executedReadmit = `{"id":"apr-1","kind":"readmit","state":"executed","requester_party":"contoso","requester_principal":"prn_oscar",
	"approver_party":"contoso","scope":"environment:env_1","subject":"device:dev_1","reason":"board replaced","approvers":1,"other_party":false,
	"decisions":[{"party_id":"contoso","principal_id":"prn_olivia","approve":true,"comment":"report checked","at":"2026-11-01T01:00:00Z"}],
	"created_at":"2026-11-01T00:00:00Z","expires_at":"2026-11-04T00:00:00Z","decided_at":"2026-11-01T01:00:00Z","executed_at":"2026-11-01T01:00:00Z"}`

func decodeBody(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	var b map[string]any
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		t.Errorf("%s %s: body: %v", r.Method, r.URL.Path, err)
	}
	return b
}

func TestDeviceReadmitWaitsForApproval(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/devices/{id}/readmit": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			if r.PathValue("id") != "dev_1" || b["reason"] != "board replaced" || len(b) != 1 {
				t.Errorf("readmit %s %v", r.PathValue("id"), b)
			}
			reply(202, `{"device":{"id":"dev_1","serial":"SN1","state":"quarantined","environment_id":"env_1"},"approval":`+pendingReadmit+`}`)(w, r)
		},
	})
	args := []string{"device", "readmit", "dev_1", "--reason", "board replaced"}
	code, out, stderr := run(t, append(args, srv...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"dev_1", "quarantined", "apr-1", "pending (0 of 1 approvals by contoso", `hallmark approval approve apr-1`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := run(t, append(append(args, "-o", "id"), srv...)...); code != 0 || out != "apr-1\n" {
		t.Fatalf("-o id: exit %d %q", code, out)
	}
	code, out, _ = run(t, append(append(args, "-o", "json"), srv...)...)
	var res struct {
		Device   struct{ State string }
		Approval struct{ ID, State string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Device.State != "quarantined" || res.Approval.ID != "apr-1" {
		t.Fatalf("-o json: exit %d %s", code, out)
	}
}

func TestApprovalCommands(t *testing.T) {
	var decisions []map[string]any
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/approvals": func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if q.Get("kind") != "readmit" || q.Get("state") != "pending" || q.Get("subject") != "device:dev_1" || q.Get("limit") != "5" {
				t.Errorf("query %q", r.URL.RawQuery)
			}
			reply(200, `{"items":[`+pendingReadmit+`]}`)(w, r)
		},
		"GET /v1/approvals/{id}": reply(200, executedReadmit),
		"POST /v1/approvals/{id}/decision": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			decisions = append(decisions, b)
			switch {
			case r.PathValue("id") == "apr-broken":
				reply(200, `{"approval":`+strings.Replace(pendingReadmit, `"pending"`, `"approved"`, 1)+`,"executed":false,"execution_error":"device dev_1 is active"}`)(w, r)
			case b["approve"] == true:
				reply(200, `{"approval":`+executedReadmit+`,"executed":true}`)(w, r)
			default:
				reply(200, `{"approval":`+strings.Replace(pendingReadmit, `"pending"`, `"denied"`, 1)+`,"executed":false}`)(w, r)
			}
		},
		"POST /v1/approvals/{id}/execute": reply(200, `{"approval":`+executedReadmit+`,"executed":true}`),
		"POST /v1/approvals/{id}/cancel":  reply(200, strings.Replace(pendingReadmit, `"pending"`, `"cancelled"`, 1)),
		"GET /v1/approval-rules": reply(200, `{"items":[{"kind":"support-grant","approvers":1,"other_party":true,"expiry":"72h0m0s","stored":false},
			{"kind":"revoke-ca","approvers":2,"other_party":false,"expiry":"24h0m0s","stored":true}]}`),
		"PUT /v1/approval-rules/{kind}": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			if r.PathValue("kind") != "readmit" || b["approvers"] != 2.0 || b["other_party"] != true || b["expiry"] != "48h" {
				t.Errorf("set-rule %s %v", r.PathValue("kind"), b)
			}
			reply(200, `{"kind":"readmit","approvers":2,"other_party":true,"expiry":"48h0m0s","stored":true}`)(w, r)
		},
	})

	code, out, stderr := run(t, append([]string{"approval", "list", "--kind", "readmit", "--state", "pending", "--subject", "device:dev_1", "--limit", "5"}, srv...)...)
	if code != 0 || !strings.Contains(out, "apr-1") || !strings.Contains(out, "0/1") || !strings.Contains(out, "contoso/prn_oscar") {
		t.Fatalf("list: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ := run(t, append([]string{"approval", "list", "--kind", "readmit", "--state", "pending", "--subject", "device:dev_1", "--limit", "5", "-o", "id"}, srv...)...); code != 0 || out != "apr-1\n" {
		t.Fatalf("list -o id: exit %d %q", code, out)
	}
	code, out, _ = run(t, append([]string{"approval", "show", "apr-1"}, srv...)...)
	for _, want := range []string{"executed", "device:dev_1", "board replaced", "Decisions (1)", "approve", "contoso/prn_olivia", "report checked"} {
		if !strings.Contains(out, want) {
			t.Errorf("show (exit %d) lacks %q:\n%s", code, want, out)
		}
	}

	code, out, stderr = run(t, append([]string{"approval", "approve", "apr-1", "--comment", "report checked"}, srv...)...)
	if code != 0 || !strings.Contains(out, "The approved readmit ran.") {
		t.Fatalf("approve: exit %d\n%s%s", code, out, stderr)
	}
	if d := decisions[0]; d["approve"] != true || d["comment"] != "report checked" {
		t.Errorf("approve body %v", d)
	}
	if code, out, _ := run(t, append([]string{"approval", "deny", "apr-1", "-o", "id"}, srv...)...); code != 0 || out != "apr-1\n" {
		t.Fatalf("deny -o id: exit %d %q", code, out)
	}
	if d := decisions[1]; d["approve"] != false || d["comment"] != nil {
		t.Errorf("deny body %v", d)
	}
	// Approved, but the action did not run: a conflict, with what to do next.
	code, out, stderr = run(t, append([]string{"approval", "approve", "apr-broken", "-o", "json"}, srv...)...)
	if code != ExitConflict || !strings.Contains(stderr, "device dev_1 is active") || !strings.Contains(stderr, "hallmark approval execute apr-1") || !strings.Contains(out, `"execution_error"`) {
		t.Fatalf("approve with execution error: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}

	if code, out, _ := run(t, append([]string{"approval", "execute", "apr-1"}, srv...)...); code != 0 || !strings.Contains(out, "ran.") {
		t.Fatalf("execute: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, append([]string{"approval", "cancel", "apr-1"}, srv...)...); code != 0 || !strings.Contains(out, "cancelled") {
		t.Fatalf("cancel: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, append([]string{"approval", "rules"}, srv...)...)
	if code != 0 || !strings.Contains(out, "support-grant") || !strings.Contains(out, "24h0m0s") {
		t.Fatalf("rules: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, append([]string{"approval", "rules", "-o", "id"}, srv...)...); code != 0 || out != "support-grant\nrevoke-ca\n" {
		t.Fatalf("rules -o id: exit %d %q", code, out)
	}
	if code, out, stderr := run(t, append([]string{"approval", "set-rule", "readmit", "--approvers", "2", "--other-party", "--expiry", "48h", "-o", "id"}, srv...)...); code != 0 || out != "readmit\n" {
		t.Fatalf("set-rule: exit %d %q %s", code, out, stderr)
	}
}

func TestApprovalDecisionRefused(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/approvals/{id}/decision": problem(403, "denied", "principal prn_oscar requested approval apr-1 and cannot decide it: another person must"),
	})
	code, _, stderr := run(t, append([]string{"approval", "approve", "apr-1"}, srv...)...)
	if code != ExitDenied || !strings.Contains(stderr, "another person must") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestRevocationWholeCAWaitsForApproval(t *testing.T) {
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/manufacturing/revocations": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			sel, _ := b["selector"].(map[string]any)
			if b["dry_run"] != false || b["why"] != "HSM key exported" || sel["issuing_ca_id"] != "ca_1" {
				t.Errorf("body %v", b)
			}
			reply(202, `{"dry_run":false,"reason":"cACompromise","factory":[],"suspended":[],"already_revoked":0,
				"approval":{"id":"apr-9","kind":"revoke-ca","state":"pending","requester_party":"acme","requester_principal":"prn_alice",
				"approver_party":"acme","scope":"manufacturer:acme","subject":"ca:ca_1","reason":"HSM key exported","approvers":2,
				"decisions":[],"created_at":"2026-11-01T00:00:00Z","expires_at":"2026-11-02T00:00:00Z"}}`)(w, r)
		},
	})
	args := []string{"revocation", "create", "--manufacturer", "acme", "--issuing-ca", "ca_1", "--reason", "cACompromise", "--why", "HSM key exported", "--execute"}
	code, out, stderr := run(t, append(args, srv...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Nothing revoked yet", "apr-9", "0 of 2 approvals by acme", "hallmark approval approve apr-9"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Revoked 0") || strings.Contains(out, "Revocation run") {
		t.Errorf("a pending revocation is shown as done:\n%s", out)
	}
	if code, out, _ := run(t, append(append(args, "-o", "id"), srv...)...); code != 0 || out != "apr-9\n" {
		t.Fatalf("-o id: exit %d %q", code, out)
	}
}

func TestSoDAndDuties(t *testing.T) {
	var dutyBodies []string
	deleted := ""
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"GET /v1/sod-rules": reply(200, `{"items":[{"id":"request-approve-support","a":{"stage":"support","duty":"issue"},"b":{"stage":"support","duty":"approve"},"created_by":"hallmark:migration","created_at":"2026-01-01T00:00:00Z"}]}`),
		"POST /v1/sod-rules": func(w http.ResponseWriter, r *http.Request) {
			b := decodeBody(t, r)
			if b["id"] != "issue-approve" || b["a"] != "operational/issue" || b["b"] != "operational/approve" {
				t.Errorf("add body %v", b)
			}
			reply(201, `{"id":"issue-approve","a":{"stage":"operational","duty":"issue"},"b":{"stage":"operational","duty":"approve"},"created_by":"prn_admin","created_at":"2026-11-01T00:00:00Z"}`)(w, r)
		},
		"DELETE /v1/sod-rules/{id}": func(w http.ResponseWriter, r *http.Request) {
			deleted = r.PathValue("id")
			w.WriteHeader(http.StatusNoContent)
		},
		"GET /v1/principals/{id}/duties": reply(200, `{"items":[{"stage":"operational","duty":"approve"}]}`),
		"PUT /v1/principals/{id}/duties": func(w http.ResponseWriter, r *http.Request) {
			var b json.RawMessage
			json.NewDecoder(r.Body).Decode(&b)
			dutyBodies = append(dutyBodies, string(b))
			if strings.Contains(string(b), "approve") {
				reply(200, `{"items":[{"stage":"operational","duty":"approve"},{"stage":"support","duty":"approve"}]}`)(w, r)
				return
			}
			reply(200, `{"items":[]}`)(w, r)
		},
	})
	code, out, _ := run(t, append([]string{"sod", "list"}, srv...)...)
	if code != 0 || !strings.Contains(out, "request-approve-support") || !strings.Contains(out, "support/issue") || !strings.Contains(out, "support/approve") {
		t.Fatalf("sod list: exit %d\n%s", code, out)
	}
	if code, out, stderr := run(t, append([]string{"sod", "add", "issue-approve", "--a", "operational/issue", "--b", "operational/approve", "-o", "id"}, srv...)...); code != 0 || out != "issue-approve\n" {
		t.Fatalf("sod add: exit %d %q %s", code, out, stderr)
	}
	if code, _, _ := run(t, append([]string{"sod", "delete", "issue-approve"}, srv...)...); code != 0 || deleted != "issue-approve" {
		t.Fatalf("sod delete: exit %d, deleted %q", code, deleted)
	}
	if code, out, _ := run(t, append([]string{"principal", "duties", "prn_1", "-o", "id"}, srv...)...); code != 0 || out != "operational/approve\n" {
		t.Fatalf("duties: exit %d %q", code, out)
	}
	if code, out, _ := run(t, append([]string{"principal", "set-duties", "prn_1", "--duty", "operational/approve", "--duty", "support/approve"}, srv...)...); code != 0 || !strings.Contains(out, "support") {
		t.Fatalf("set-duties: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, append([]string{"principal", "set-duties", "prn_1", "--clear"}, srv...)...); code != 0 || !strings.Contains(out, "not limited") {
		t.Fatalf("set-duties --clear: exit %d\n%s", code, out)
	}
	if len(dutyBodies) != 2 || dutyBodies[0] != `{"duties":["operational/approve","support/approve"]}` || dutyBodies[1] != `{"duties":[]}` {
		t.Errorf("duty bodies %q", dutyBodies)
	}
}

func TestGovernanceUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"readmit without reason", []string{"device", "readmit", "dev_1"}},
		{"approval list bad kind", []string{"approval", "list", "--kind", "coffee"}},
		{"approval list bad state", []string{"approval", "list", "--state", "asleep"}},
		{"approval approve without ID", []string{"approval", "approve"}},
		{"approval deny two IDs", []string{"approval", "deny", "apr-1", "apr-2"}},
		{"set-rule bad kind", []string{"approval", "set-rule", "coffee", "--approvers", "1", "--expiry", "1h"}},
		{"set-rule three approvers", []string{"approval", "set-rule", "readmit", "--approvers", "3", "--expiry", "1h"}},
		{"set-rule bad expiry", []string{"approval", "set-rule", "readmit", "--approvers", "1", "--expiry", "3 days"}},
		{"set-rule without expiry", []string{"approval", "set-rule", "readmit", "--approvers", "1"}},
		{"sod add bad pair", []string{"sod", "add", "r", "--a", "operational", "--b", "operational/approve"}},
		{"sod add same pair", []string{"sod", "add", "r", "--a", "operational/issue", "--b", "operational/issue"}},
		{"sod add without b", []string{"sod", "add", "r", "--a", "operational/issue"}},
		{"set-duties nothing", []string{"principal", "set-duties", "prn_1"}},
		{"set-duties duty and clear", []string{"principal", "set-duties", "prn_1", "--duty", "operational/issue", "--clear"}},
		{"set-duties bad duty", []string{"principal", "set-duties", "prn_1", "--duty", "operational/dance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeServer(t, map[string]http.HandlerFunc{
				"/": func(w http.ResponseWriter, r *http.Request) {
					t.Errorf("a bad command line reached the server: %s %s", r.Method, r.URL)
				},
			})
			code, _, stderr := run(t, append(tt.args, srv...)...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr)
			}
		})
	}
}
