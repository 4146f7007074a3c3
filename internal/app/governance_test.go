package app

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/agent"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	// The device agent reads 202 as "ask again after Retry-After", not as a failure.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(read(t, filepath.Dir(s.info.TLSCAFile), filepath.Base(s.info.TLSCAFile))))
	ag := agent.New(agent.Config{ESTURL: U, RootCAs: pool,
		Keystore: &agent.Files{FactoryCert: filepath.Join(dir, "SN-G1.factory.pem"), FactoryKey: filepath.Join(dir, "SN-G1.key"), Dir: filepath.Join(dir, "g-state")},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	var deferred *agent.DeferredError
	if _, err := ag.Step(context.Background()); !errors.As(err, &deferred) || deferred.Status != 202 || deferred.RetryAfter != 30*time.Second {
		t.Fatalf("agent step while pending: %v", err)
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

// engineerCSR makes a key and CSR as a vendor engineer would, with openssl.
func engineerCSR(t *testing.T, dir, name string) string {
	t.Helper()
	run(t, dir, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name+".key", "-subj", "/CN="+name, "-out", name+".csr")
	return read(t, dir, name+".csr")
}

type grantView struct {
	ID          string            `json:"id"`
	State       string            `json:"state"`
	Status      string            `json:"status"`
	NotAfter    time.Time         `json:"not_after"`
	Approval    *approval.Request `json:"approval"`
	Certificate string            `json:"certificate"`
	Chain       string            `json:"chain"`
}

type reach struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	GrantID string `json:"grant_id"`
}

// TestSupportGrants walks a vendor engineer's access from request to expiry: refusals of bad
// windows and devices change nothing; the operator's approval issues a support certificate for
// exactly the window, checked by openssl and by the check API; inventory shows the grant; an
// early revocation ends it and OCSP says so.
func TestSupportGrants(t *testing.T) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	s := startDev(t, dir)
	lot := demoLot(t, s, "lot-sup")
	fi := deliveredDevice(t, s, dir, lot, "lot-sup", "SN-S1")
	other := deliveredDevice(t, s, dir, lot, "lot-sup", "SN-S2")
	envID := opEnv(t, s, "support-env", map[string]any{"support_max_window": "4h"})
	onboard(t, s, dir, envID, "SN-S1", "s1", 201)
	held := issueFactory(t, s, dir, lot, "lot-sup", "SN-S3") // still with the contract manufacturer
	csr := engineerCSR(t, dir, "eve")
	now := time.Now().UTC()
	req := func(mut func(m map[string]any)) map[string]any {
		m := map[string]any{"environment_id": envID, "devices": []string{fi.Device.ID}, "reason": "crash dumps from the field",
			"not_after": now.Add(2 * time.Hour).Format(time.RFC3339), "csr": csr}
		if mut != nil {
			mut(m)
		}
		return m
	}
	before := auditCount(t, s)
	for _, tc := range []struct {
		name string
		who  string
		mut  func(m map[string]any)
		want int
		msg  string
	}{
		{"window in the past", eve, func(m map[string]any) {
			m["not_before"], m["not_after"] = now.Add(-3*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
		}, 400, "in the past"},
		{"window over the maximum", eve, func(m map[string]any) { m["not_after"] = now.Add(5 * time.Hour).Format(time.RFC3339) }, 400, "over the environment's maximum"},
		{"window ends before it starts", eve, func(m map[string]any) { m["not_before"] = now.Add(3 * time.Hour).Format(time.RFC3339) }, 400, "before it starts"},
		{"device the operator does not hold", eve, func(m map[string]any) { m["devices"] = []string{held.Device.ID} }, 400, "not held by operator"},
		{"device not in the environment", eve, func(m map[string]any) { m["devices"] = []string{other.Device.ID} }, 400, "not held by operator"},
		{"both devices and a lot", eve, func(m map[string]any) { m["lot_id"] = lot }, 400, "either devices or one lot"},
		{"no reason", eve, func(m map[string]any) { delete(m, "reason") }, 400, "reason"},
		{"garbage CSR", eve, func(m map[string]any) { m["csr"] = "not a csr" }, 400, ""},
		{"the operator asks for itself", oscar, nil, 403, "only support vendors and manufacturers"},
		{"a distributor", dana, nil, 403, ""},
	} {
		r := s.call(t, tc.who, "POST", "/v1/support/grants", req(tc.mut))
		if r.Status != tc.want || !strings.Contains(string(r.Body), tc.msg) {
			t.Errorf("%s: %d %s, want %d containing %q", tc.name, r.Status, r.Body, tc.want, tc.msg)
		}
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("refused support requests appended %d audit events", n-before)
	}

	var g grantView
	s.must(t, 202, eve, "POST", "/v1/support/grants", req(nil)).json(t, &g)
	if g.Status != "requested" || g.Approval == nil || g.Approval.ApproverParty != "contoso" || !g.Approval.OtherParty {
		t.Fatalf("request: %+v", g)
	}
	// The vendor cannot approve its own request; the operator can.
	if r := s.call(t, eve, "POST", "/v1/approvals/"+g.Approval.ID+"/decision", map[string]any{"approve": true}); r.Status != 403 {
		t.Fatalf("the requester decided: %d %s", r.Status, r.Body)
	}
	var dec approvalResult
	s.must(t, 200, olivia, "POST", "/v1/approvals/"+g.Approval.ID+"/decision", map[string]any{"approve": true}).json(t, &dec)
	if !dec.Executed {
		t.Fatalf("approved grant was not issued: %+v", dec)
	}
	s.must(t, 200, eve, "GET", "/v1/support/grants/"+g.ID, nil).json(t, &g)
	if g.Status != "active" || g.Certificate == "" {
		t.Fatalf("after approval: %+v", g)
	}
	writeFile(t, dir, "eve.pem", g.Certificate)
	writeFile(t, dir, "eve-chain.pem", g.Chain)
	if out := run(t, dir, "openssl", "verify", "-partial_chain", "-CAfile", "eve-chain.pem", "eve.pem"); !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	text := run(t, dir, "openssl", "x509", "-in", "eve.pem", "-noout", "-text", "-enddate")
	if !strings.Contains(text, "URI:spiffe://contoso.example/support/globex/eve") || !strings.Contains(text, "TLS Web Client Authentication") {
		t.Errorf("support certificate:\n%s", text)
	}
	cert := parsePEMCert(t, g.Certificate)
	if !cert.NotAfter.Equal(g.NotAfter) {
		t.Errorf("certificate ends %s, the grant's window %s", cert.NotAfter, g.NotAfter)
	}
	// Its key is the engineer's: the CSR's public key.
	if pub := run(t, dir, "openssl", "pkey", "-in", "eve.key", "-pubout"); !strings.Contains(run(t, dir, "openssl", "x509", "-in", "eve.pem", "-noout", "-pubkey"), strings.TrimSpace(pub)) {
		t.Error("the support certificate does not carry the engineer's key")
	}

	check := func(who, device string) reach {
		var r reach
		s.must(t, 200, who, "POST", "/v1/support/check", map[string]string{"certificate": g.Certificate, "device_id": device}).json(t, &r)
		return r
	}
	if r := check(oscar, fi.Device.ID); !r.Allowed || r.GrantID != g.ID {
		t.Fatalf("check for the granted device: %+v", r)
	}
	if r := check(oscar, other.Device.ID); r.Allowed {
		t.Fatalf("check for a device outside the grant: %+v", r)
	}
	// The device's own operational certificate is not a support certificate.
	var view struct {
		OperationalCert string `json:"operational_certificate"`
		SupportGrants   []struct {
			ID string `json:"id"`
		} `json:"support_grants"`
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &view)
	if len(view.SupportGrants) != 1 || view.SupportGrants[0].ID != g.ID {
		t.Fatalf("inventory shows grants %+v", view.SupportGrants)
	}
	var r reach
	s.must(t, 200, oscar, "POST", "/v1/support/check", map[string]string{"certificate": read(t, dir, "s1.pem"), "device_id": fi.Device.ID}).json(t, &r)
	if r.Allowed || !strings.Contains(r.Reason, "not a support certificate") {
		t.Fatalf("a device credential passed the support check: %+v", r)
	}
	if r := s.call(t, dana, "POST", "/v1/support/check", map[string]string{"certificate": g.Certificate, "device_id": fi.Device.ID}); r.Status != 403 {
		t.Fatalf("a distributor checked the grant: %d %s", r.Status, r.Body)
	}

	// Early revocation: the grant ends, the check says so, OCSP says revoked.
	s.must(t, 200, olivia, "POST", "/v1/support/grants/"+g.ID+"/revoke", map[string]string{}).json(t, &g)
	if g.Status != "revoked" {
		t.Fatalf("after revoke: %+v", g)
	}
	if r := check(oscar, fi.Device.ID); r.Allowed || !strings.Contains(r.Reason, "revoked") {
		t.Fatalf("check after revocation: %+v", r)
	}
	if r := s.call(t, olivia, "POST", "/v1/support/grants/"+g.ID+"/revoke", map[string]string{}); r.Status != 409 {
		t.Fatalf("second revoke: %d %s", r.Status, r.Body)
	}
}

func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRevokeWholeCAApprovals: revoking every factory identity of an issuing CA waits for two
// approvers of the manufacturer other than the requester; nothing is revoked before.
func TestRevokeWholeCAApprovals(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	lot := demoLot(t, s, "lot-ca")
	fi := issueFactory(t, s, dir, lot, "lot-ca", "SN-C1")
	var cas items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	caID := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			caID = c.ID
		}
	}
	body := map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "issuing_ca_id": caID}, "reason": "cACompromise", "dry_run": false, "why": "HSM audit found the key exported"}
	// A dry run needs no approval.
	dry := body["dry_run"]
	body["dry_run"] = true
	s.must(t, 200, alice, "POST", "/v1/manufacturing/revocations", body)
	body["dry_run"] = dry
	var res struct {
		Factory  []any             `json:"factory"`
		Approval *approval.Request `json:"approval"`
	}
	s.must(t, 202, alice, "POST", "/v1/manufacturing/revocations", body).json(t, &res)
	if res.Approval == nil || res.Approval.Approvers != 2 || res.Approval.ApproverParty != "acme" || len(res.Factory) != 0 {
		t.Fatalf("whole-CA revocation did not wait for two approvers: %+v", res)
	}
	id := res.Approval.ID
	if r := s.call(t, station, "POST", "/v1/manufacturing/revocations", body); r.Status != 403 {
		t.Fatalf("the contract manufacturer asked for a whole-CA revocation: %d %s", r.Status, r.Body)
	}
	decide := func(who string) resp {
		return s.call(t, who, "POST", "/v1/approvals/"+id+"/decision", map[string]any{"approve": true})
	}
	if r := decide(alice); r.Status != 403 {
		t.Fatalf("requester approved: %d", r.Status)
	}
	if r := decide(oscar); r.Status != 404 {
		t.Fatalf("another party decided: %d %s", r.Status, r.Body)
	}
	var dec approvalResult
	if r := decide(bob); r.Status != 200 {
		t.Fatalf("first approval: %d %s", r.Status, r.Body)
	} else {
		r.json(t, &dec)
	}
	if dec.Approval.State != approval.Pending || dec.Executed {
		t.Fatalf("one approval of two ran the revocation: %+v", dec)
	}
	if r := decide(bob); r.Status != 409 {
		t.Fatalf("the same approver counted twice: %d", r.Status)
	}
	var view struct {
		Certificates []struct {
			Profile string `json:"profile"`
			State   string `json:"state"`
		} `json:"certificates"`
	}
	s.must(t, 200, alice, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &view)
	if view.Certificates[0].State != "issued" {
		t.Fatalf("the factory certificate is %s before the second approval", view.Certificates[0].State)
	}
	decide(carol).json(t, &dec)
	if !dec.Executed || dec.Approval.State != approval.Executed {
		t.Fatalf("second approval: %+v", dec)
	}
	s.must(t, 200, alice, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &view)
	if view.Certificates[0].State != "revoked" {
		t.Fatalf("the factory certificate is %s after the approved whole-CA revocation", view.Certificates[0].State)
	}
}

// TestSeparationOfDuties: a matrix change that would give one person conflicting duties over
// a scope is refused until the party limits its principals; a limited principal is refused
// the duties it does not hold; only administrators set duties, never their own; rules are
// admin-only.
func TestSeparationOfDuties(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	ids := map[string]string{}
	var ps struct {
		Items []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			PartyID string `json:"party_id"`
		} `json:"items"`
	}
	s.must(t, 200, admin, "GET", "/v1/parties/contoso/principals", nil).json(t, &ps)
	for _, p := range ps.Items {
		ids[p.PartyID+"/"+p.Name] = p.ID
	}
	cell := map[string]any{"stage": "operational", "duty": "audit", "scope": map[string]string{"kind": "operator", "id": "contoso"}, "party_id": "contoso"}
	before := auditCount(t, s)
	if r := s.call(t, admin, "PUT", "/v1/ownership", cell); r.Status != 403 || !strings.Contains(string(r.Body), "separation of duties") {
		t.Fatalf("contoso got operational audit beside issue with unlimited principals: %d %s", r.Status, r.Body)
	}
	if n := auditCount(t, s); n != before {
		t.Fatalf("a refused matrix change appended %d events", n-before)
	}
	duties := func(who, principal string, ds []string) resp {
		return s.call(t, who, "PUT", "/v1/principals/"+ids[principal]+"/duties", map[string]any{"duties": ds})
	}
	if r := duties(oscar, "contoso/oscar", []string{"operational/issue"}); r.Status != 403 {
		t.Fatalf("a principal changed its own duties: %d", r.Status)
	}
	if r := duties(alice, "contoso/oscar", []string{"operational/issue"}); r.Status != 403 {
		t.Fatalf("another party changed oscar's duties: %d", r.Status)
	}
	if r := duties(olivia, "contoso/oscar", []string{"operational/issue"}); r.Status != 403 {
		t.Fatalf("a colleague who is not an administrator changed oscar's duties: %d", r.Status)
	}
	if r := duties(admin, "contoso/oscar", []string{"operational/launch"}); r.Status != 400 {
		t.Fatalf("an unknown duty: %d", r.Status)
	}
	// Administrators limit principals; oscar keeps custody/transfer to accept deliveries.
	s.must(t, 200, admin, "PUT", "/v1/principals/"+ids["contoso/oscar"]+"/duties", map[string]any{"duties": []string{"operational/issue", "operational/renew", "operational/revoke", "support/approve", "custody/transfer"}})
	s.must(t, 200, admin, "PUT", "/v1/principals/"+ids["contoso/olivia"]+"/duties", map[string]any{"duties": []string{"operational/audit", "operational/approve", "support/approve"}})
	// An administrator's duties are limited by another administrator of its party.
	admin2, admin2ID := addPrincipal(t, s, "contoso", "admin-2", true)
	s.must(t, 200, admin2, "PUT", "/v1/principals/"+ids["contoso/admin"]+"/duties", map[string]any{"duties": []string{"operational/approve"}})
	s.must(t, 200, admin, "PUT", "/v1/principals/"+admin2ID+"/duties", map[string]any{"duties": []string{"operational/approve"}})
	s.must(t, 200, admin, "PUT", "/v1/ownership", cell)
	// Now olivia may not take issue, and oscar may not get audit.
	if r := duties(admin, "contoso/olivia", []string{"operational/audit", "operational/issue"}); r.Status != 403 || !strings.Contains(string(r.Body), "issue-audit-operational") {
		t.Fatalf("olivia got issue and audit: %d %s", r.Status, r.Body)
	}
	// A limited principal is refused a duty it does not hold, even though its party owns it.
	lot := demoLot(t, s, "lot-sod")
	deliveredDevice(t, s, dir, lot, "lot-sod", "SN-D1")
	if r := s.call(t, olivia, "POST", "/v1/environments", map[string]any{"operator_id": "contoso", "name": "x", "issuing_ca_id": "ca-none", "trust_domain": "contoso.example", "lifetime": "24h", "max_age": "72h"}); r.Status != 403 && r.Status != 404 {
		t.Fatalf("olivia, limited to audit and approve, created an environment: %d %s", r.Status, r.Body)
	}
	envID := opEnv(t, s, "sod-env", nil) // oscar holds issue
	onboard(t, s, dir, envID, "SN-D1", "d1", 201)

	// Rules: administrators only; a rule that a principal already breaks is refused.
	rule := map[string]string{"id": "renew-approve", "a": "operational/renew", "b": "operational/approve"}
	if r := s.call(t, oscar, "POST", "/v1/sod-rules", rule); r.Status != 403 {
		t.Fatalf("a non-admin added a rule: %d", r.Status)
	}
	bad := map[string]string{"id": "issue-renew", "a": "operational/issue", "b": "operational/renew"}
	if r := s.call(t, admin, "POST", "/v1/sod-rules", rule); r.Status != 403 {
		t.Fatalf("a party's administrator added a rule: %d", r.Status)
	}
	if r := s.call(t, deployAdmin, "POST", "/v1/sod-rules", bad); r.Status != 403 {
		t.Fatalf("a rule oscar already breaks was added: %d %s", r.Status, r.Body)
	}
	s.must(t, 201, deployAdmin, "POST", "/v1/sod-rules", rule)
	s.must(t, 204, deployAdmin, "DELETE", "/v1/sod-rules/renew-approve", nil)
	if r := s.call(t, deployAdmin, "DELETE", "/v1/sod-rules/renew-approve", nil); r.Status != 404 {
		t.Fatalf("deleting a missing rule: %d", r.Status)
	}
}

type gapsReport struct {
	Unowned []struct {
		Scope, Stage, Duty string
	} `json:"unowned"`
	Devices []struct {
		Scope   string `json:"scope"`
		Duty    string `json:"duty"`
		Devices int    `json:"devices"`
	} `json:"devices_without_owner"`
	Idle []struct {
		PartyID string `json:"party_id"`
		Name    string `json:"name"`
	} `json:"idle_principals"`
	SelfApproval []struct {
		Scope   string `json:"scope"`
		Kind    string `json:"approval_kind"`
		PartyID string `json:"party_id"`
	} `json:"self_approval"`
	Total int `json:"total"`
}

// TestGovernanceGaps: deleting a cell makes a gap the report names, with the devices it
// leaves without an owner; principals unused for long are listed; approvals decided inside
// the acting party are listed until the rule asks for another party; a party sees only its own.
func TestGovernanceGaps(t *testing.T) {
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
	dir := t.TempDir()
	s := startDevWith(t, dir, clock)
	lot := demoLot(t, s, "lot-gap")
	issueFactory(t, s, dir, lot, "lot-gap", "SN-GP1")
	issueFactory(t, s, dir, lot, "lot-gap", "SN-GP2")
	var g gapsReport
	s.must(t, 200, audrey, "GET", "/v1/reports/gaps", nil).json(t, &g)
	if len(g.Unowned) != 0 || len(g.Devices) != 0 {
		t.Fatalf("the dev seed has gaps: %+v", g)
	}
	selfApproved := func(kind, partyID string) bool {
		for _, s := range g.SelfApproval {
			if s.Kind == kind && s.PartyID == partyID {
				return true
			}
		}
		return false
	}
	if !selfApproved("revoke-ca", "acme") || !selfApproved("readmit", "contoso") || !selfApproved("reorigin", "contoso") {
		t.Fatalf("self approval not reported: %+v", g.SelfApproval)
	}

	// acme's revoke cell goes: nobody owns manufacturing revocation of its devices.
	if r := s.call(t, alice, "DELETE", "/v1/ownership?stage=manufacturing&duty=revoke&scope=manufacturer:acme", nil); r.Status != 403 {
		t.Fatalf("a manufacturer deleted its own top cell: %d %s", r.Status, r.Body)
	}
	if r := s.call(t, deployAdmin, "DELETE", "/v1/ownership?stage=manufacturing&duty=revoke&scope=manufacturer:acme", nil); r.Status != 403 {
		t.Fatalf("the deployment administrator deleted a cell over acme: %d %s", r.Status, r.Body)
	}
	s.must(t, 204, "acme/admin", "DELETE", "/v1/ownership?stage=manufacturing&duty=revoke&scope=manufacturer:acme", nil)
	s.must(t, 200, audrey, "GET", "/v1/reports/gaps", nil).json(t, &g)
	found := false
	for _, u := range g.Unowned {
		found = found || (u.Scope == "lot:"+lot && u.Stage == "manufacturing" && u.Duty == "revoke")
	}
	if !found {
		t.Fatalf("the unowned revoke duty of %s is not reported: %+v", lot, g.Unowned)
	}
	if len(g.Devices) != 1 || g.Devices[0].Scope != "lot:"+lot || g.Devices[0].Devices != 2 || g.Devices[0].Duty != "revoke" {
		t.Fatalf("devices without a revocation owner: %+v", g.Devices)
	}
	// The standards mapping cites the gap as live evidence for NIST CSF GV.RR-02.
	var std struct {
		Rows []struct {
			ID       string `json:"id"`
			Evidence struct {
				Count  int    `json:"count"`
				Status string `json:"status"`
			} `json:"evidence"`
		} `json:"rows"`
	}
	s.must(t, 200, audrey, "GET", "/v1/reports/standards", nil).json(t, &std)
	seen := false
	for _, r := range std.Rows {
		if r.ID == "GV.RR-02" {
			seen = true
			if r.Evidence.Count < 1 || r.Evidence.Status != "attention" {
				t.Fatalf("GV.RR-02 evidence after an unowned duty: %+v", r.Evidence)
			}
		}
	}
	if !seen {
		t.Fatalf("the standards report has no GV.RR-02 row: %+v", std.Rows)
	}
	// The operator sees its own scopes only: the manufacturer's gap is not its business.
	var mine gapsReport
	s.must(t, 200, oscar, "GET", "/v1/reports/gaps", nil).json(t, &mine)
	for _, u := range mine.Unowned {
		if strings.HasPrefix(u.Scope, "lot:") || strings.HasPrefix(u.Scope, "manufacturer:") {
			t.Fatalf("the operator sees the manufacturer's gap %+v", u)
		}
	}
	for _, p := range mine.Idle {
		if p.PartyID != "contoso" {
			t.Fatalf("the operator sees principal %+v", p)
		}
	}

	// After 70 days only the principals used since are not idle (tokens last 90 days).
	skew.Store(int64(70 * 24 * time.Hour))
	s.must(t, 200, audrey, "GET", "/v1/reports/gaps?idle=60d", nil).json(t, &g)
	idle := map[string]bool{}
	for _, p := range g.Idle {
		idle[p.PartyID+"/"+p.Name] = true
	}
	if !idle["northwind/dana"] || !idle["globex/eve"] || idle["auditco/audrey"] {
		t.Fatalf("idle principals: %v", idle)
	}
	if r := s.call(t, audrey, "GET", "/v1/reports/gaps?idle=soon", nil); r.Status != 400 {
		t.Fatalf("a bad idle duration: %d", r.Status)
	}

	// Asking for another party's approval closes the self-approval gap of re-admission.
	s.must(t, 200, deployAdmin, "PUT", "/v1/approval-rules/readmit", map[string]any{"approvers": 1, "other_party": true, "expiry": "72h"})
	s.must(t, 200, audrey, "GET", "/v1/reports/gaps", nil).json(t, &g)
	if selfApproved("readmit", "contoso") {
		t.Fatalf("readmit still self-approved with other_party: %+v", g.SelfApproval)
	}
}

// TestWholeCARevocationRetiresTheCA: an approved whole-CA revocation retires the CA, which then
// issues nothing; executing the used approval again (to finish an interrupted run) reaches only
// what the CA issued before its retirement, and only the requester or an approver may do it.
func TestWholeCARevocationRetiresTheCA(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	lot := demoLot(t, s, "lot-ret")
	first := issueFactory(t, s, dir, lot, "lot-ret", "SN-R1")
	var cas items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	caID := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			caID = c.ID
		}
	}
	var res struct {
		Approval *approval.Request `json:"approval"`
	}
	s.must(t, 202, alice, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "issuing_ca_id": caID},
		"reason": "cACompromise", "dry_run": false}).json(t, &res)
	s.must(t, 200, bob, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true})
	var dec approvalResult
	s.must(t, 200, carol, "POST", "/v1/approvals/"+res.Approval.ID+"/decision", map[string]any{"approve": true}).json(t, &dec)
	if !dec.Executed {
		t.Fatalf("whole-CA revocation: %+v", dec)
	}
	// The retired CA issues nothing more.
	body := map[string]any{"csr": newCSR(t, dir, "SN-R2"), "build_record": record("SN-R2", "lot-ret")}
	if r := s.call(t, station, "POST", "/v1/lots/"+lot+"/devices", body); r.Status != 409 || !strings.Contains(string(r.Body), "retired") {
		t.Fatalf("issuance by a retired CA: %d %s", r.Status, r.Body)
	}
	// Limit bob to auditing: he may no longer set off the approved action again.
	var ps struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	s.must(t, 200, alice, "GET", "/v1/parties/acme/principals", nil).json(t, &ps)
	for _, p := range ps.Items {
		if p.Name == "bob" {
			s.must(t, 200, "acme/admin", "PUT", "/v1/principals/"+p.ID+"/duties", map[string]any{"duties": []string{"manufacturing/revoke"}})
		}
	}
	if r := s.call(t, bob, "POST", "/v1/approvals/"+res.Approval.ID+"/execute", nil); r.Status != 403 {
		t.Fatalf("a principal without the approve duty re-ran the approved action: %d %s", r.Status, r.Body)
	}
	s.must(t, 200, alice, "POST", "/v1/approvals/"+res.Approval.ID+"/execute", nil)
	var view struct {
		Certificates []struct {
			State string `json:"state"`
		} `json:"certificates"`
	}
	s.must(t, 200, alice, "GET", "/v1/devices/"+first.Device.ID, nil).json(t, &view)
	if view.Certificates[0].State != "revoked" {
		t.Fatalf("the CA's certificate is %s", view.Certificates[0].State)
	}
	// The CA's own certificate is revoked at its root, for cACompromise: the root's CRL lists
	// it once the status service has followed the change.
	var all struct {
		Items []api.CA `json:"items"`
	}
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &all)
	rootID := ""
	for _, c := range all.Items {
		if c.ID == caID {
			rootID = c.ParentID
		}
	}
	issuingCert := parsePEMCert(t, string(s.must(t, 200, alice, "GET", "/v1/cas/"+caID+"/certificate", nil).Body))
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rl, err := x509.ParseRevocationList(s.must(t, 200, "", "GET", "/crl/"+rootID+".crl", nil).Body)
		if err != nil {
			t.Fatalf("the root's CRL: %v", err)
		}
		listed := slices.IndexFunc(rl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool { return e.SerialNumber.Cmp(issuingCert.SerialNumber) == 0 })
		if listed >= 0 {
			if code := rl.RevokedCertificateEntries[listed].ReasonCode; code != 2 {
				t.Errorf("the root's CRL lists the retired CA for reason %d, want 2 (cACompromise)", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the root %s's CRL does not list the retired CA %s within 15 s", rootID, caID)
		}
	}
}
