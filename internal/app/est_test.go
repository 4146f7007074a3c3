package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/config"
)

// The EST tests drive a real dev server's EST listener with clients nobody on this project
// wrote: openssl and curl exactly as docs/est.md shows them, and globalsign's estclient.

var fw = strings.Repeat("0f", 32)

// sh runs a bash pipeline with pipefail in dir.
func sh(t *testing.T, dir, script string) string {
	t.Helper()
	return run(t, dir, "bash", "-o", "pipefail", "-c", script)
}

// estCSR makes NAME.key and NAME.csr.b64 (base64 DER in 64-character lines) as docs/est.md does.
func estCSR(t *testing.T, dir, name string) {
	t.Helper()
	sh(t, dir, fmt.Sprintf(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -subj "/CN=%s" -outform DER | base64 -w 64 > %s.csr.b64`, name, name, name))
}

// estEnroll runs the openssl+curl recipe: op is simpleenroll or simplereenroll at path
// (".../est" or ".../est/<label>"), the client certificate is cert/key, the request NAME.csr.b64;
// the issued certificate lands in NAME.pem. extra are more curl arguments.
func estEnroll(t *testing.T, s *devServer, dir, path, op, cert, key, name string, extra ...string) {
	t.Helper()
	estCSR(t, dir, name)
	sh(t, dir, fmt.Sprintf(`curl -sS --fail-with-body %s --cacert '%s' --cert %s --key %s -H "Content-Type: application/pkcs10" \
  -H "Content-Transfer-Encoding: base64" --data-binary @%s.csr.b64 '%s/%s' \
  | tr -d '\r\n' | openssl base64 -d -A | openssl pkcs7 -inform DER -print_certs -out %s.pem`,
		strings.Join(extra, " "), s.info.TLSCAFile, cert, key, name, path, op, name))
}

// estStatus sends body (a file in dir, or none) to path with curl and returns the status and
// the response body.
func estStatus(t *testing.T, s *devServer, dir, path, cert, key, bodyFile string) (int, string) {
	t.Helper()
	args := []string{"-sS", "--cacert", s.info.TLSCAFile, "-o", "est.out", "-w", "%{http_code}"}
	if cert != "" {
		args = append(args, "--cert", cert, "--key", key)
	}
	if bodyFile != "" {
		args = append(args, "-H", "Content-Type: application/pkcs10", "-H", "Hallmark-Firmware-Digest: "+fw, "--data-binary", "@"+bodyFile)
	}
	code, err := strconv.Atoi(run(t, dir, "curl", append(args, path)...))
	if err != nil {
		t.Fatal(err)
	}
	return code, read(t, dir, "est.out")
}

// deviceView is the part of GET /v1/devices/{id} the EST tests read.
type deviceView struct {
	State           string `json:"state"`
	EnvironmentID   string `json:"environment_id"`
	OperationalCert string `json:"operational_certificate"`
	Lineage         []struct {
		Kind        string `json:"kind"`
		Protocol    string `json:"protocol"`
		PrincipalID string `json:"principal_id"`
	} `json:"lineage"`
}

func demoEnvID(t *testing.T, s *devServer) string {
	t.Helper()
	var envs items
	s.must(t, 200, oscar, "GET", "/v1/environments", nil).json(t, &envs)
	for _, e := range envs.Items {
		if e.Name == "demo" {
			return e.ID
		}
	}
	t.Fatalf("the dev seed made no environment named demo: %+v", envs)
	return ""
}

// TestESTOpenSSLCurl onboards and renews a device over EST with openssl and curl, on the bare
// path (the dev server's default label "demo"), and checks every certificate with
// `openssl verify` against the operator's root.
func TestESTOpenSSLCurl(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	s := startDev(t, "")
	dir := t.TempDir()
	if s.info.ESTURL == "" || s.info.ESTDefaultLabel != "demo" {
		t.Fatalf("dev.json: est_url %q, est_default_label %q", s.info.ESTURL, s.info.ESTDefaultLabel)
	}
	U := s.info.ESTURL
	lotID := demoLot(t, s, "lot-est")
	fi := deliveredDevice(t, s, dir, lotID, "lot-est", "SN-E1")

	sh(t, dir, fmt.Sprintf(`curl -sS -D cacerts.hdr --cacert '%s' '%s/cacerts' | tr -d '\r\n' | openssl base64 -d -A | openssl pkcs7 -inform DER -print_certs -out cacerts.pem`, s.info.TLSCAFile, U))
	if hdr := strings.ToLower(read(t, dir, "cacerts.hdr")); !strings.Contains(hdr, "content-type: application/pkcs7-mime") || !strings.Contains(hdr, "content-transfer-encoding: base64") {
		t.Errorf("cacerts headers:\n%s", hdr)
	}
	if n := strings.Count(read(t, dir, "cacerts.pem"), "BEGIN CERTIFICATE"); n != 2 {
		t.Fatalf("cacerts holds %d certificates, want the issuing CA and its root", n)
	}
	root := s.info.CAFiles["contoso-contoso-ops-root"]
	verify := func(name string) {
		t.Helper()
		if out := run(t, dir, "openssl", "verify", "-CAfile", root, "-untrusted", "cacerts.pem", name+".pem"); !strings.Contains(out, ": OK") {
			t.Fatalf("openssl verify %s: %s", name, out)
		}
	}

	estEnroll(t, s, dir, U, "simpleenroll", "SN-E1.factory.pem", "SN-E1.key", "op",
		"-H", "'Hallmark-Firmware-Digest: "+fw+"'", "-H", "'Hallmark-Hardware-Revision: B'", "-H", "'Hallmark-Fact: site=north'")
	verify("op")
	text := run(t, dir, "openssl", "x509", "-in", "op.pem", "-noout", "-text")
	if !strings.Contains(text, "URI:spiffe://contoso.example/env/demo/device/"+fi.Device.ID) {
		t.Errorf("the EST certificate lacks the SPIFFE ID of environment demo:\n%s", text)
	}
	var d deviceView
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != "active" || d.EnvironmentID != demoEnvID(t, s) || len(d.Lineage) != 1 || d.Lineage[0].Protocol != "est" || d.Lineage[0].PrincipalID != "est:demo" {
		t.Fatalf("after simpleenroll: %+v", d)
	}

	estEnroll(t, s, dir, U, "simplereenroll", "op.pem", "op.key", "op2")
	verify("op2")
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if len(d.Lineage) != 2 || d.Lineage[1].Kind != "renew" || d.Lineage[1].Protocol != "est" {
		t.Fatalf("after simplereenroll: %+v", d)
	}
	serial := strings.TrimPrefix(strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", "op2.pem", "-noout", "-serial")), "serial=")
	if !strings.EqualFold(strings.TrimLeft(serial, "0"), strings.TrimLeft(d.OperationalCert, "0")) {
		t.Errorf("the device's operational certificate is %s, the renewed one %s", d.OperationalCert, serial)
	}
	// csrattrs: Hallmark asks for no attributes.
	if code, body := estStatus(t, s, dir, U+"/csrattrs", "", "", ""); code != 204 {
		t.Errorf("csrattrs: %d %s", code, body)
	}
}

// buildESTClient builds globalsign's estclient from its own module in tools/estclient.
func buildESTClient(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "estclient")
	cmd := exec.Command("go", "build", "-o", out, "github.com/globalsign/est/cmd/estclient")
	cmd.Dir = filepath.Join("..", "..", "tools", "estclient")
	if b, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("building estclient in tools/estclient: %v\n%s", err, b)
		}
		t.Skipf("cannot build estclient in tools/estclient (is the module proxy reachable?): %v\n%s", err, b)
	}
	return out
}

// TestESTGlobalSignClient enrolls and re-enrolls with github.com/globalsign/est's estclient.
func TestESTGlobalSignClient(t *testing.T) {
	requireTool(t, "openssl")
	estclient := buildESTClient(t)
	s := startDev(t, "")
	dir := t.TempDir()
	server := strings.TrimSuffix(strings.TrimPrefix(s.info.ESTURL, "https://"), "/.well-known/est")
	lotID := demoLot(t, s, "lot-gs")
	fi := deliveredDevice(t, s, dir, lotID, "lot-gs", "SN-G1")
	anchor := s.info.TLSCAFile

	run(t, dir, estclient, "cacerts", "-server", server, "-explicit", anchor, "-out", "cacerts.pem")
	newCSR(t, dir, "g-op")
	run(t, dir, estclient, "enroll", "-server", server, "-explicit", anchor, "-certs", "SN-G1.factory.pem", "-key", "SN-G1.key",
		"-csr", "g-op.csr", "-headers", "Hallmark-Firmware-Digest:"+fw+",Hallmark-Hardware-Revision:B", "-out", "g-op.pem")
	// Re-enrollment at the explicit label of the same environment; estclient makes the request
	// with the current key.
	run(t, dir, estclient, "reenroll", "-server", server, "-aps", "demo", "-explicit", anchor, "-certs", "g-op.pem", "-key", "g-op.key", "-out", "g-op2.pem")
	root := s.info.CAFiles["contoso-contoso-ops-root"]
	for _, name := range []string{"g-op", "g-op2"} {
		if out := run(t, dir, "openssl", "verify", "-CAfile", root, "-untrusted", "cacerts.pem", name+".pem"); !strings.Contains(out, ": OK") {
			t.Fatalf("openssl verify %s: %s", name, out)
		}
	}
	var d deviceView
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != "active" || len(d.Lineage) != 2 || d.Lineage[0].PrincipalID != "est:demo" || d.Lineage[1].Kind != "renew" {
		t.Fatalf("after estclient: %+v", d)
	}
	// A refusal reaches the client with the reason: the factory identity onboarded already.
	out, err := runErr(dir, estclient, "enroll", "-server", server, "-explicit", anchor, "-certs", "SN-G1.factory.pem", "-key", "SN-G1.key", "-csr", "g-op.csr")
	if err == nil || !strings.Contains(out, "rule device-onboardable") {
		t.Errorf("a second enrollment of an active device: %v\n%s", err, out)
	}
}

// TestESTRefusals sends bad EST requests; each gets the right status and a reason, and none
// changes anything (every state change appends an audit event in its transaction).
func TestESTRefusals(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	s := startDev(t, "")
	dir := t.TempDir()
	U := s.info.ESTURL
	lotID := demoLot(t, s, "lot-bad")
	opEnv(t, s, "est-lab", nil)
	deliveredDevice(t, s, dir, lotID, "lot-bad", "SN-B1")
	held := issueFactory(t, s, dir, lotID, "lot-bad", "SN-B3") // still with the contract manufacturer
	writeFile(t, dir, "SN-B3.factory.pem", held.CertificatePEM)
	// A device onboarded, then renewed: its first certificate is superseded.
	deliveredDevice(t, s, dir, lotID, "lot-bad", "SN-B2")
	estEnroll(t, s, dir, U, "simpleenroll", "SN-B2.factory.pem", "SN-B2.key", "b2a")
	estEnroll(t, s, dir, U, "simplereenroll", "b2a.pem", "b2a.key", "b2b", "--tls-max", "1.2")
	// A lot revoked at manufacturing: one device never onboarded (factory-revoked), one with an
	// operational identity (suspended).
	lotRV := demoLot(t, s, "lot-rv")
	deliveredDevice(t, s, dir, lotRV, "lot-rv", "SN-V1")
	deliveredDevice(t, s, dir, lotRV, "lot-rv", "SN-V2")
	estEnroll(t, s, dir, U, "simpleenroll", "SN-V2.factory.pem", "SN-V2.key", "v2")
	s.must(t, 201, alice, "POST", "/v1/manufacturing/revocations", map[string]any{
		"selector": map[string]string{"manufacturer_id": "acme", "lot_id": lotRV}, "reason": "keyCompromise", "dry_run": false})
	// A factory certificate from a maker Hallmark does not know.
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "SN-X.key",
		"-subj", "/CN=SN-X", "-days", "30", "-out", "SN-X.factory.pem")
	estCSR(t, dir, "good")
	writeFile(t, dir, "garbage.b64", "this is not base64!\r\n")
	sh(t, dir, `openssl req -new -key SN-B1.key -subj /CN=same -outform DER | base64 -w 64 > factory-key.csr.b64`)
	writeFile(t, dir, "big.b64", strings.Repeat("QUFB", 70<<10/4))

	cases := []struct {
		name, path, cert, key, body string
		status                      int
		reason                      string
	}{
		{"garbage base64", "/simpleenroll", "SN-B1.factory.pem", "SN-B1.key", "garbage.b64", 400, "not base64"},
		{"CSR with the factory key", "/simpleenroll", "SN-B1.factory.pem", "SN-B1.key", "factory-key.csr.b64", 400, "factory key"},
		{"no client certificate", "/simpleenroll", "", "", "good.csr.b64", 401, "client certificate"},
		{"device held by another party", "/simpleenroll", "SN-B3.factory.pem", "SN-B3.key", "good.csr.b64", 403, "transfer custody first"},
		{"factory identity revoked", "/simpleenroll", "SN-V1.factory.pem", "SN-V1.key", "good.csr.b64", 403, "revoked"},
		{"suspended device renews", "/simplereenroll", "v2.pem", "v2.key", "good.csr.b64", 403, "suspended"},
		{"unknown label", "/nope/simpleenroll", "SN-B1.factory.pem", "SN-B1.key", "good.csr.b64", 404, "nope"},
		{"superseded certificate renews", "/simplereenroll", "b2a.pem", "b2a.key", "good.csr.b64", 409, "superseded"},
		{"renewal at another environment's label", "/est-lab/simplereenroll", "b2b.pem", "b2b.key", "good.csr.b64", 403, "another environment"},
		{"factory certificate at reenroll", "/simplereenroll", "SN-B1.factory.pem", "SN-B1.key", "good.csr.b64", 400, "not an operational certificate"},
		{"oversized body", "/simpleenroll", "SN-B1.factory.pem", "SN-B1.key", "big.b64", 413, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, s)
			code, body := estStatus(t, s, dir, U+tc.path, tc.cert, tc.key, tc.body)
			if code != tc.status || !strings.Contains(body, tc.reason) {
				t.Fatalf("status %d %q, want %d with %q", code, body, tc.status, tc.reason)
			}
			if after := auditCount(t, s); after != before {
				t.Errorf("audit log grew %d → %d", before, after)
			}
		})
	}

	// A factory certificate from a maker Hallmark does not know is refused in the TLS
	// handshake (no CA of the deployment nor registered anchor issued it), before any HTTP.
	before := auditCount(t, s)
	out, err := runErr(dir, "curl", "-sS", "--cacert", s.info.TLSCAFile, "--cert", "SN-X.factory.pem", "--key", "SN-X.key",
		"-H", "Content-Type: application/pkcs10", "--data-binary", "@good.csr.b64", U+"/simpleenroll")
	if err == nil || strings.Contains(out, "factory chain") {
		t.Errorf("an unknown maker's certificate reached the handler: %v\n%s", err, out)
	}
	// curl sees the alert before the server's handshake goroutine has counted the failure:
	// read the counter until it shows, for at most 5 s.
	var v float64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if v, _ = metricValue(scrapeMetrics(t, s.info.MetricsURL), "hallmark_tls_handshake_failures_total", map[string]string{"listener": "est", "reason": "unknown_issuer"}); v >= 1 || time.Now().After(deadline) {
			break
		}
	}
	if v < 1 {
		t.Errorf("the refusal is not counted as unknown_issuer on the est listener: %v", v)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("audit log grew %d → %d", before, after)
	}

	// A policy refusal carries the rule the policy gave: the device reports firmware its build
	// record does not list (the default onboarding policy), at the label of another environment.
	before = auditCount(t, s)
	code, _ := estStatus(t, s, dir, U+"/est-lab/simpleenroll", "SN-B1.factory.pem", "SN-B1.key", "good.csr.b64")
	if code != 200 {
		t.Fatalf("onboarding at est-lab with good facts: %d", code)
	}
	if after := auditCount(t, s); after != before+1 {
		t.Errorf("an onboarding appended %d audit events, want 1", after-before)
	}
	deliveredDevice(t, s, dir, lotID, "lot-bad", "SN-B4")
	before = auditCount(t, s)
	out, err = runErr(dir, "curl", "-sS", "--cacert", s.info.TLSCAFile, "--cert", "SN-B4.factory.pem", "--key", "SN-B4.key", "-w", "\n%{http_code}",
		"-H", "Content-Type: application/pkcs10", "-H", "Hallmark-Firmware-Digest: "+strings.Repeat("ee", 32), "--data-binary", "@good.csr.b64", U+"/est-lab/simpleenroll")
	if err != nil || !strings.HasSuffix(out, "\n403") || !strings.Contains(out, "firmware-matches-build") {
		t.Errorf("policy refusal: %v\n%s", err, out)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("a policy refusal appended %d audit events", after-before)
	}
}

// TestESTExpiredRenewal re-enrolls with an operational certificate that expired while the
// device was offline (the server's clock moves on): 403 and nothing changes; the device then
// onboards again over EST with its factory identity.
func TestESTExpiredRenewal(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	var skew atomic.Int64
	s := startDevWith(t, "", func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	dir := t.TempDir()
	U := s.info.ESTURL + "/est-lapse"
	lotID := demoLot(t, s, "lot-elapse")
	opEnv(t, s, "est-lapse", map[string]any{"lifetime": "1h", "max_age": "2h"})
	deliveredDevice(t, s, dir, lotID, "lot-elapse", "SN-L1")
	estEnroll(t, s, dir, U, "simpleenroll", "SN-L1.factory.pem", "SN-L1.key", "lap1")

	skew.Store(int64(90 * time.Minute))
	estCSR(t, dir, "lap2")
	before := auditCount(t, s)
	if code, body := estStatus(t, s, dir, U+"/simplereenroll", "lap1.pem", "lap1.key", "lap2.csr.b64"); code != 403 || !strings.Contains(body, "expired") {
		t.Fatalf("re-enrollment with an expired certificate: %d %s", code, body)
	}
	if after := auditCount(t, s); after != before {
		t.Errorf("audit log grew %d → %d", before, after)
	}
	estEnroll(t, s, dir, U, "simpleenroll", "SN-L1.factory.pem", "SN-L1.key", "lap3")
}

// TestESTConfig checks the est section of the configuration file.
func TestESTConfig(t *testing.T) {
	base := `{"listen": "127.0.0.1:8443", "public_url": "https://h.example", "store": {"path": "x.db"}, "keys": {"dir": "k"},
  "tls": {"cert_file": "c.pem", "key_file": "k.pem"}%s}`
	c, err := config.Parse(fmt.Appendf(nil, base, `, "est": {"listen": "127.0.0.1:8444", "default_label": "plant-1"}`))
	if err != nil || c.EST == nil || c.EST.Listen != "127.0.0.1:8444" || c.EST.DefaultLabel != "plant-1" {
		t.Fatalf("est section: %+v, %v", c, err)
	}
	if c, err := config.Parse(fmt.Appendf(nil, base, "")); err != nil || c.EST != nil {
		t.Fatalf("without an est section EST is off: %+v, %v", c, err)
	}
	for _, bad := range []struct{ est, want string }{
		{`{"listen": "nowhere"}`, "est.listen"},
		{`{"listen": "127.0.0.1:8443"}`, "must differ"},
		{`{"listen": "127.0.0.1:8444", "default_label": "a b"}`, "est.default_label"},
		{`{"listen": "127.0.0.1:8444", "labels": []}`, "unknown field"},
	} {
		if _, err := config.Parse(fmt.Appendf(nil, base, `, "est": `+bad.est)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("est %s: %v, want %q", bad.est, err, bad.want)
		}
	}
}
