package app

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/operational"
)

// TestExternalMakerHallmark (issue 15): the maker runs a Hallmark of its own. Two deployments,
// each a `hallmark serve --config` process with its own folder, keys and database (the
// operator's on PostgreSQL when HALLMARK_TEST_POSTGRES is set), on loopback, driven only with
// the hallmark CLI, openssl, curl and `hallmark agent`:
//
//   - M, the maker, makes two lots and three devices (factory certificates and build records)
//     and publishes its revocation status over its plain-HTTP status listener;
//   - O, the operator, registers M as a maker with M's root as the anchor and its issuing CA as
//     intermediate, and nothing else: the sources are the ones M's certificates name;
//   - a device of M onboards into O's environment over EST with curl and openssl, another
//     with `hallmark agent`;
//   - M revokes the first lot; O's watcher (every second) fetches M's CRL and suspends the
//     device of that lot, naming M's CRL, while the device of the other lot stays active; the
//     revoked device and the lot's other device are refused when they try to onboard.
func TestExternalMakerHallmark(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "bash", "base64"} {
		requireTool(t, tool)
	}
	bin := buildBinary(t)
	m := startProcess(t, bin, procSpec{Name: "maker", Config: procConfig("", nil), Bootstrap: &procParty{ID: "acme", Name: "Acme Devices", Kind: "manufacturer"}})
	oSections := map[string]any{"makers": map[string]any{"watch_interval": "1s"}}
	var oEnv []string
	if base := os.Getenv("HALLMARK_TEST_POSTGRES"); base != "" {
		oSections["store"] = map[string]any{"driver": "postgres", "dsn_env": "HALLMARK_TEST_DATABASE_URL"}
		oEnv = append(oEnv, "HALLMARK_TEST_DATABASE_URL="+pgSchema(t))
	}
	o := startProcess(t, bin, procSpec{Name: "operator", Config: procConfig("", oSections), Env: oEnv, Bootstrap: &procParty{ID: "contoso", Name: "Contoso Utilities", Kind: "operator"}})
	if len(oEnv) > 0 {
		if _, err := os.Stat(filepath.Join(o.Dir, "hallmark.db")); err == nil {
			t.Fatal("the operator on PostgreSQL made a SQLite file")
		}
	}
	work := t.TempDir()
	path := func(name string) string { return filepath.Join(work, name) }

	// M: a manufacturing hierarchy, a model, two lots, three devices.
	alice := m.Principal(m.AdminToken, "acme", "alice", true)
	cas := strings.Fields(m.CLI(alice, "ca", "create-hierarchy", "--manufacturer", "acme", "--name", "acme-mfg", "-o", "id"))
	if len(cas) != 2 {
		t.Fatalf("ca create-hierarchy -o id printed %q, want the root's and the issuing CA's IDs", cas)
	}
	m.CLI("", "ca", "cert", cas[0], "--out", path("m-root.pem"))
	m.CLI("", "ca", "cert", cas[1], "--out", path("m-issuing.pem"))
	model := strings.TrimSpace(m.CLI(alice, "model", "create", "--manufacturer", "acme", "--name", "sensor-x", "-o", "id"))
	lots := map[string]string{}
	for _, name := range []string{"lot-001", "lot-002"} {
		lots[name] = strings.TrimSpace(m.CLI(alice, "lot", "create", "--model", model, "--name", name, "--line", "line-a", "--issuing-ca", cas[1], "-o", "id"))
	}
	devices := []struct{ serial, lot string }{{"SN-0001", "lot-001"}, {"SN-0002", "lot-001"}, {"SN-0003", "lot-002"}}
	for i, d := range devices {
		n := i + 1
		run(t, work, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", fmt.Sprintf("dev%d.key", n),
			"-subj", "/CN="+d.serial, "-out", fmt.Sprintf("dev%d.csr", n))
		writeFile(t, work, fmt.Sprintf("record%d.json", n), fmt.Sprintf(`{"manufacturer": "acme", "model": "sensor-x", "hardwareRevision": "B", "serial": %q,
 "lot": %q, "line": "line-a", "firmwareDigest": {"sha256": "%s"}, "testResult": "pass", "builtAt": "2026-11-28T10:00:00Z"}`, d.serial, d.lot, fw))
		m.CLI(alice, "factory", "issue", "--lot", lots[d.lot], "--csr", path(fmt.Sprintf("dev%d.csr", n)), "--record", path(fmt.Sprintf("record%d.json", n)),
			"--cert-out", path(fmt.Sprintf("dev%d.pem", n)))
	}
	// M's factory certificates name M's plain-HTTP status listener, and openssl checks one
	// against the CRL fetched from there.
	dev1 := readCert(t, path("dev1.pem"))
	if len(dev1.CRLDistributionPoints) != 1 || !strings.HasPrefix(dev1.CRLDistributionPoints[0], m.StatusURL+"/") ||
		len(dev1.OCSPServer) != 1 || !strings.HasPrefix(dev1.OCSPServer[0], m.StatusURL+"/") {
		t.Fatalf("M's factory certificate names CRLs %v and OCSP %v; want M's status listener %s", dev1.CRLDistributionPoints, dev1.OCSPServer, m.StatusURL)
	}
	// The CA was made a moment ago: the status listener serves it from the first request.
	run(t, work, "curl", "-sS", "--fail", "-o", "m.crl", dev1.CRLDistributionPoints[0])
	run(t, work, "openssl", "crl", "-inform", "DER", "-in", "m.crl", "-out", "m-crl.pem")
	if out := run(t, work, "openssl", "verify", "-crl_check", "-CAfile", "m-root.pem", "-untrusted", "m-issuing.pem", "-CRLfile", "m-crl.pem", "dev1.pem"); !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify -crl_check of M's device: %s", out)
	}

	// O: an operational hierarchy, an environment, and M registered as a maker.
	oscar := o.Principal(o.AdminToken, "contoso", "oscar", true)
	ops := strings.Fields(o.CLI(oscar, "operational", "create-hierarchy", "--operator", "contoso", "--name", "contoso-ops", "-o", "id"))
	o.CLI(oscar, "env", "create", "--operator", "contoso", "--name", "plant-1", "--site", "berlin", "--issuing-ca", ops[len(ops)-1],
		"--trust-domain", "contoso.example", "--lifetime", "24h", "--max-age", "72h")
	// M's build-record key signs the manifests it hands the operator; O requires them.
	m.CLI("", "buildrecord", "key", "acme", "--out", path("m-brk.pem"))
	makerID := strings.TrimSpace(o.CLI(oscar, "maker", "register", "--name", "acme", "--anchor", path("m-root.pem"), "--intermediate", path("m-issuing.pem"),
		"--manifest-key", path("m-brk.pem"), "--require-manifest", "--require-hardware-module-name", "--key-type", "ecdsa-p256", "-o", "id"))
	devID := func(n int) string { return operational.ExternalDeviceID(makerID, devices[n-1].serial) }
	est := o.ESTURL + "/plant-1"
	oe := &devServer{info: DevInfo{TLSCAFile: o.TLSCert}} // for the curl helpers of est_test.go
	var signed struct {
		Devices int    `json:"devices"`
		SHA256  string `json:"sha256"`
	}
	m.CLIJSON(alice, &signed, "lot", "manifest", "--manufacturer", "acme", lots["lot-001"], "--out", path("m-lot1.manifest.json"))
	if signed.Devices != 2 {
		t.Fatalf("M's manifest of lot-001 lists %d devices, want 2", signed.Devices)
	}
	o.CLI(oscar, "maker", "manifest", "upload", makerID, "--file", path("m-lot1.manifest.json"))

	// Device 1 over EST with curl and openssl; device 3, of the lot the manifest does not
	// list, is refused to the device agent until M signs a manifest of both lots.
	estEnroll(t, oe, work, est, "simpleenroll", path("dev1.pem"), path("dev1.key"), "op1")
	agent := func(n int) (string, error) {
		cmd := exec.Command(bin, "agent", "--est", est, "--cacert", o.TLSCert, "--factory-cert", path(fmt.Sprintf("dev%d.pem", n)),
			"--factory-key", path(fmt.Sprintf("dev%d.key", n)), "--dir", path(fmt.Sprintf("agent%d", n)), "--once")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var ee *exec.ExitError
	if out, err := agent(3); !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out, "manifest.device_not_listed") {
		t.Fatalf("hallmark agent of device 3, not in M's manifest: %v\n%s; want exit 3 naming manifest.device_not_listed", err, out)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // a manifest is dated to the second; the next must be later
	m.CLIJSON(alice, &signed, "lot", "manifest", "--manufacturer", "acme", lots["lot-001"], lots["lot-002"], "--out", path("m-both.manifest.json"))
	if signed.Devices != 3 {
		t.Fatalf("M's manifest of both lots lists %d devices, want 3", signed.Devices)
	}
	o.CLI(oscar, "maker", "manifest", "upload", makerID, "--file", path("m-both.manifest.json"))
	if _, errOut, err := o.CLIErr(oscar, "maker", "manifest", "upload", makerID, "--file", path("m-lot1.manifest.json")); err == nil || !strings.Contains(errOut, "409") && !strings.Contains(errOut, "older") {
		t.Errorf("replaying M's older manifest: %v %s; want it refused", err, errOut)
	}
	if out, err := agent(3); err != nil {
		t.Fatalf("hallmark agent of device 3, once listed: %v\n%s", err, out)
	}
	type shown struct {
		State    string `json:"state"`
		External *struct {
			MakerName string `json:"maker_name"`
			State     string `json:"state"`
			Evidence  *struct {
				Kind, URL, Reason string
			} `json:"evidence"`
		} `json:"external"`
	}
	show := func(n int) shown {
		var v shown
		o.CLIJSON(oscar, &v, "device", "show", devID(n))
		return v
	}
	for _, n := range []int{1, 3} {
		if v := show(n); v.State != "active" || v.External == nil || v.External.MakerName != "acme" || v.External.State != "good" {
			t.Fatalf("device %d in O after onboarding: %+v", n, v)
		}
	}

	// M revokes lot-001. O's watcher suspends device 1, naming M's CRL.
	m.CLI(alice, "revocation", "create", "--manufacturer", "acme", "--lot", lots["lot-001"], "--reason", "keyCompromise", "--execute", "-o", "id")
	revoked := time.Now()
	deadline := revoked.Add(60 * time.Second)
	v := show(1)
	for ; v.State != "suspended"; v = show(1) {
		if time.Now().After(deadline) {
			t.Fatalf("device 1 is %s in O 60 s after M revoked its lot; want suspended\n--- operator log\n%s", v.State, o.Tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("O suspended device 1 %s after M revoked its lot (watch interval 1 s)", time.Since(revoked).Round(10*time.Millisecond))
	if e := v.External; e == nil || e.State != "revoked" || e.Evidence == nil || e.Evidence.Kind != "crl" || e.Evidence.URL != dev1.CRLDistributionPoints[0] || e.Evidence.Reason != "keyCompromise" {
		t.Fatalf("device 1's origin in O: %+v, want revoked by M's CRL %s", v.External, dev1.CRLDistributionPoints[0])
	}
	if out := o.CLI(oscar, "device", "show", devID(1)); !strings.Contains(out, "keyCompromise") || !strings.Contains(out, dev1.CRLDistributionPoints[0]) {
		t.Errorf("device show in O does not say why device 1 is suspended:\n%s", out)
	}
	if v := show(3); v.State != "active" {
		t.Errorf("device 3, of the lot M did not revoke, is %s in O", v.State)
	}

	// The revoked devices are refused: device 1 again over EST, device 2 with the agent.
	estCSR(t, work, "again")
	if code, body := estStatus(t, oe, work, est+"/simpleenroll", path("dev1.pem"), path("dev1.key"), "again.csr.b64"); code != 403 || !strings.Contains(body, "revoked") {
		t.Errorf("device 1 onboarding again after M revoked it: %d %s", code, body)
	}
	out, err := agent(2)
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(out, "revoked") {
		t.Errorf("hallmark agent of device 2, of the revoked lot: %v\n%s; want exit 3 naming the revocation", err, out)
	}
}

// readCert reads the first PEM certificate of a file.
func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
