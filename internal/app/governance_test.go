package app

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/approval"
	"github.com/hallmark-id/hallmark/internal/device"
)

type approvalResult struct {
	Approval  approval.Request `json:"approval"`
	Executed  bool             `json:"executed"`
	ExecError string           `json:"execution_error"`
}

// readmit asks for re-admission as oscar and has olivia approve it; it returns the device.
func readmit(t *testing.T, s *devServer, deviceID string) device.Device {
	t.Helper()
	var res struct {
		Device   device.Device     `json:"device"`
		Approval *approval.Request `json:"approval"`
	}
	s.must(t, 202, oscar, "POST", "/v1/devices/"+deviceID+"/readmit", map[string]string{"reason": "repaired and re-flashed"}).json(t, &res)
	if res.Approval == nil || res.Approval.State != approval.Pending || res.Approval.ApproverParty != "contoso" {
		t.Fatalf("readmit did not wait for an approval: %+v", res.Approval)
	}
	var dec approvalResult
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true, "comment": "checked the repair report"}).json(t, &dec)
	if !dec.Executed || dec.Approval.State != approval.Executed {
		t.Fatalf("approved re-admission did not run: %+v", dec)
	}
	var d device.Device
	s.must(t, 200, oscar, "GET", "/v1/devices/"+deviceID, nil).json(t, &d)
	return d
}

// TestReadmitApprovals walks the approval rules on re-admission: nothing changes until another
// person of the owning party approves; the requester, another party and a second decision are
// refused; a denial leaves the device quarantined; an approval is used once.
func TestReadmitApprovals(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	lot := demoLot(t, s, "lot-ra")
	fi := deliveredDevice(t, s, dir, lot, "lot-ra", "SN-RA1")
	envID := opEnv(t, s, "readmit-env", nil)
	onboard(t, s, dir, envID, "SN-RA1", "ra", 201)
	s.must(t, 200, oscar, "POST", "/v1/devices/"+fi.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})

	before := auditCount(t, s)
	bad := []struct {
		name string
		who  string
		body any
		want int
	}{
		{"no reason", oscar, map[string]string{}, 400},
		{"unknown field", oscar, map[string]string{"why": "x"}, 400},
		{"the maker, which sees the device but does not own the duty", alice, map[string]string{"reason": "x"}, 403},
		{"a party that cannot see the device", dana, map[string]string{"reason": "x"}, 404},
	}
	for _, tc := range bad {
		s.must(t, tc.want, tc.who, "POST", "/v1/devices/"+fi.Device.ID+"/readmit", tc.body)
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("refused re-admission requests appended %d audit events", n-before)
	}

	var res struct {
		Device   device.Device     `json:"device"`
		Approval *approval.Request `json:"approval"`
	}
	s.must(t, 202, oscar, "POST", "/v1/devices/"+fi.Device.ID+"/readmit", map[string]string{"reason": "repaired"}).json(t, &res)
	id := res.Approval.ID
	// Asking again returns the same pending request.
	var again struct {
		Approval *approval.Request `json:"approval"`
	}
	s.must(t, 202, oscar, "POST", "/v1/devices/"+fi.Device.ID+"/readmit", map[string]string{"reason": "repaired"}).json(t, &again)
	if again.Approval.ID != id {
		t.Fatalf("a second request made approval %s beside the pending %s", again.Approval.ID, id)
	}
	var d device.Device
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != device.Quarantined {
		t.Fatalf("device is %s before any approval", d.State)
	}
	decide := func(who string, approve bool) resp {
		return s.call(t, who, "POST", "/v1/approvals/"+id+"/decision", map[string]any{"approve": approve})
	}
	if r := decide(oscar, true); r.Status != 403 || !strings.Contains(string(r.Body), "cannot decide it") {
		t.Fatalf("the requester approved their own request: %d %s", r.Status, r.Body)
	}
	if r := decide(alice, true); r.Status != 404 {
		t.Fatalf("another party decided: %d %s", r.Status, r.Body)
	}
	if r := decide(audrey, true); r.Status != 403 {
		t.Fatalf("an auditor decided: %d %s", r.Status, r.Body)
	}
	if r := decide(olivia, false); r.Status != 200 {
		t.Fatalf("deny: %d %s", r.Status, r.Body)
	}
	if r := decide(admin, true); r.Status != 409 {
		t.Fatalf("a decided request took another decision: %d %s", r.Status, r.Body)
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != device.Quarantined {
		t.Fatalf("denied re-admission changed the device to %s", d.State)
	}
	if r := s.call(t, oscar, "POST", "/v1/approvals/"+id+"/execute", nil); r.Status != 409 {
		t.Fatalf("executing a denied request: %d %s", r.Status, r.Body)
	}

	// A fresh request, approved, re-admits once.
	d = readmit(t, s, fi.Device.ID)
	if d.State != device.Registered {
		t.Fatalf("after approved re-admission the device is %s, want registered", d.State)
	}
	var list struct {
		Items []approval.Request `json:"items"`
	}
	s.must(t, 200, audrey, "GET", "/v1/approvals?kind=readmit&subject=device:"+fi.Device.ID, nil).json(t, &list)
	if len(list.Items) != 2 || list.Items[0].State != approval.Executed || list.Items[1].State != approval.Denied {
		t.Fatalf("approvals of the device = %+v", list.Items)
	}
	used := list.Items[0].ID
	s.must(t, 200, alice, "GET", "/v1/approvals", nil).json(t, &list)
	for _, q := range list.Items {
		if q.Subject == "device:"+fi.Device.ID {
			t.Fatalf("the manufacturer sees the operator's approval %s", q.ID)
		}
	}
	if r := s.call(t, olivia, "POST", "/v1/approvals/"+used+"/execute", nil); r.Status != 404 && r.Status != 409 {
		t.Fatalf("re-executing a used approval: %d %s", r.Status, r.Body)
	}
}

// TestESTManualApproval onboards over EST (openssl + curl) into an environment whose policy asks
// for an operator's approval: the device is told 202 with Retry-After and nothing is issued
// until another principal approves; its next identical request then gets the certificate, and
// the approval is used once.
func TestESTManualApproval(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	dir := t.TempDir()
	s := startDev(t, dir)
	spec := map[string]any{"rules": []map[string]string{{"name": "test-passed", "expr": `build_record.test_result == "pass"`}}, "require_approval": "true"}
	envID := opEnv(t, s, "gated", map[string]any{"onboarding_policy": spec})
	lotID := demoLot(t, s, "lot-gated")
	fi := deliveredDevice(t, s, dir, lotID, "lot-gated", "SN-G1")
	U := s.info.ESTURL + "/gated"
	estCSR(t, dir, "g")
	enroll := func() (int, string, string) {
		out := sh(t, dir, fmt.Sprintf(`curl -sS -D g.hdr -o g.out -w '%%{http_code}' --cacert '%s' --cert SN-G1.factory.pem --key SN-G1.key -H "Content-Type: application/pkcs10" --data-binary @g.csr.b64 '%s/simpleenroll'`, s.info.TLSCAFile, U))
		return atoi(t, out), read(t, dir, "g.out"), read(t, dir, "g.hdr")
	}
	before := auditCount(t, s)
	code, body, hdr := enroll()
	if code != 202 || !strings.Contains(strings.ToLower(hdr), "retry-after: 30") || !strings.Contains(body, "waits for approval") {
		t.Fatalf("first enroll: %d\n%s\n%s", code, hdr, body)
	}
	if n := auditCount(t, s) - before; n != 1 {
		t.Fatalf("a waiting enrollment appended %d audit events, want 1 (approval.request)", n)
	}
	var list struct {
		Items []approval.Request `json:"items"`
	}
	s.must(t, 200, olivia, "GET", "/v1/approvals?kind=onboard&state=pending", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].Subject != "device:"+fi.Device.ID || list.Items[0].Scope != "environment:"+envID {
		t.Fatalf("pending onboarding approvals: %+v", list.Items)
	}
	id := list.Items[0].ID
	// Asking again while it waits files nothing new.
	if code, _, _ := enroll(); code != 202 {
		t.Fatalf("second enroll while pending: %d", code)
	}
	s.must(t, 200, olivia, "GET", "/v1/approvals?kind=onboard&state=pending", nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("a repeated enrollment filed another request: %+v", list.Items)
	}
	var d deviceView
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != "registered" || d.OperationalCert != "" {
		t.Fatalf("a waiting enrollment changed the device: %+v", d)
	}
	// Onboarding has no executor: the approval waits for the device.
	var dec approvalResult
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+id+"/decision", map[string]any{"approve": true}).json(t, &dec)
	if dec.Executed || dec.Approval.State != approval.Approved {
		t.Fatalf("decision: %+v", dec)
	}
	code, body, _ = enroll()
	if code != 200 {
		t.Fatalf("enroll after approval: %d %s", code, body)
	}
	s.must(t, 200, oscar, "GET", "/v1/approvals/"+id, nil).json(t, &dec.Approval)
	if dec.Approval.State != approval.Executed {
		t.Fatalf("the approval is %s after the enrollment it approved", dec.Approval.State)
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != "active" || d.EnvironmentID != envID {
		t.Fatalf("after the approved enrollment: %+v", d)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
