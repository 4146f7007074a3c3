package app

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/issuance"
)

const (
	// deployAdmin is the deployment administrator (party "*"); admin is contoso's
	// administrator, and every demo party has one named "admin".
	deployAdmin = "admin"
	admin       = "contoso/admin"
	alice       = "acme/alice"
	station     = "fabrikam/station-1"
	dana        = "northwind/dana"
	oscar       = "contoso/oscar"
	audrey      = "auditco/audrey"
	olivia      = "contoso/olivia"
	bob         = "acme/bob"
	carol       = "acme/carol"
	eve         = "globex/eve"
)

type item struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

type items struct {
	Items []item `json:"items"`
}

// demoLot creates a lot of the demo model, delegated to the contract manufacturer.
func demoLot(t *testing.T, s *devServer, name string) (lotID string) {
	t.Helper()
	var cas, models items
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	s.must(t, 200, alice, "GET", "/v1/models?manufacturer=acme", nil).json(t, &models)
	issuing := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" {
			issuing = c.ID
		}
	}
	if issuing == "" || len(models.Items) == 0 {
		t.Fatalf("dev seed missing: cas %+v models %+v", cas, models)
	}
	var lot item
	s.must(t, 201, alice, "POST", "/v1/lots", map[string]any{
		"model_id": models.Items[0].ID, "name": name, "line": "line-a", "issuing_ca_id": issuing, "delegate_to": "fabrikam",
	}).json(t, &lot)
	return lot.ID
}

// newCSR makes a device key and CSR with openssl; keyArgs select the key type.
func newCSR(t *testing.T, dir, name string, keyArgs ...string) string {
	t.Helper()
	if len(keyArgs) == 0 {
		keyArgs = []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}
	}
	args := append([]string{"req", "-new"}, keyArgs...)
	args = append(args, "-nodes", "-keyout", name+".key", "-subj", "/CN="+name, "-out", name+".csr")
	run(t, dir, "openssl", args...)
	b, err := os.ReadFile(filepath.Join(dir, name+".csr"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func record(serial, lot string) map[string]any {
	return map[string]any{
		"manufacturer": "acme", "model": "sensor-x", "hardwareRevision": "B", "serial": serial, "lot": lot, "line": "line-a",
		"components": []map[string]any{
			{"name": "mcu", "version": "1.2", "digest": map[string]string{"sha256": strings.Repeat("ab", 32)}},
			{"name": "radio", "digest": map[string]string{"sha256": strings.Repeat("cd", 32)}},
		},
		"firmwareDigest": map[string]string{"sha256": strings.Repeat("0f", 32)},
		"testResult":     "pass",
		"builtAt":        "2026-11-28T10:00:00Z",
	}
}

type factoryIdentity struct {
	Device struct {
		ID          string `json:"id"`
		Serial      string `json:"serial"`
		State       string `json:"state"`
		CustodianID string `json:"custodian_id"`
		FactoryCert string `json:"factory_certificate"`
	} `json:"device"`
	CertificatePEM string `json:"certificate_pem"`
	ChainPEM       string `json:"chain_pem"`
	BuildRecord    []byte `json:"build_record"`
	BuildRecordSHA string `json:"build_record_sha256"`
}

func issueFactory(t *testing.T, s *devServer, dir, lotID, lotName, serial string) factoryIdentity {
	t.Helper()
	csr := newCSR(t, dir, serial)
	var fi factoryIdentity
	s.must(t, 201, station, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": csr, "build_record": record(serial, lotName)}).json(t, &fi)
	return fi
}

// auditCount counts the audit events that record changes: refusal events (written when
// their coalescing window ends, at any time) are not counted.
func auditCount(t *testing.T, s *devServer) int {
	t.Helper()
	var evs struct {
		Items []struct {
			Seq    int    `json:"seq"`
			Action string `json:"action"`
		} `json:"items"`
	}
	s.must(t, 200, audrey, "GET", "/v1/audit/events", nil).json(t, &evs)
	n := 0
	for _, e := range evs.Items {
		if e.Action != "refusal" {
			n++
		}
	}
	return n
}

// TestFoundationWalkthrough covers the foundation through the real HTTPS API on loopback:
// authentication, the ownership matrix with delegation, factory issuance from an openssl CSR
// checked with `openssl verify`, offline build-record verification, custody, and denials.
func TestFoundationWalkthrough(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()

	s.must(t, 200, "", "GET", "/v1/openapi.json", nil)
	p := s.must(t, 401, "", "GET", "/v1/whoami", nil).problem(t)
	if p["type"] != "https://hallmark.dev/problems/unauthenticated" {
		t.Errorf("unauthenticated problem = %v", p)
	}

	lotID := demoLot(t, s, "lot-001")

	// The manufacturer delegated issuance of this lot: its contract manufacturer issues, and a
	// distributor is refused with the cell it lacked.
	p = s.must(t, 403, dana, "POST", "/v1/lots/"+lotID+"/devices", map[string]any{"csr": newCSR(t, dir, "x"), "build_record": record("SN-X", "lot-001")}).problem(t)
	if p["type"] != "https://hallmark.dev/problems/not-owner" || p["stage"] != "manufacturing" || p["duty"] != "issue" || p["scope"] != "lot:"+lotID || p["owner"] != "fabrikam" {
		t.Errorf("refusal = %v, want not-owner manufacturing/issue on lot:%s owned by fabrikam", p, lotID)
	}

	fi := issueFactory(t, s, dir, lotID, "lot-001", "SN-0001")
	if fi.Device.State != "registered" || fi.Device.CustodianID != "fabrikam" {
		t.Errorf("device = %+v", fi.Device)
	}
	writeFile(t, dir, "factory.pem", fi.CertificatePEM)
	chain := splitPEM(t, fi.ChainPEM)
	writeFile(t, dir, "issuing.pem", chain[0])
	writeFile(t, dir, "root.pem", chain[1])
	out := run(t, dir, "openssl", "verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "factory.pem")
	if !strings.Contains(out, "factory.pem: OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	text := run(t, dir, "openssl", "x509", "-in", "factory.pem", "-noout", "-text")
	for _, want := range []string{"serialNumber = SN-0001", "O = Acme Devices", "othername: 1.3.6.1.5.5.7.8.4", "1.3.6.1.4.1.32473.7601.1.1"} {
		if !strings.Contains(text, want) {
			t.Errorf("factory certificate lacks %q:\n%s", want, text)
		}
	}

	// Offline verification with only the manufacturer's public key.
	keyPEM := s.must(t, 200, "", "GET", "/v1/manufacturers/acme/build-record-key", nil).Body
	verifyBuildRecord(t, keyPEM, fi.BuildRecord, fi.CertificatePEM)

	// Visibility: maker and holder see the device, another party does not learn it exists.
	s.must(t, 200, alice, "GET", "/v1/devices/"+fi.Device.ID, nil)
	s.must(t, 200, station, "GET", "/v1/devices/"+fi.Device.ID, nil)
	s.must(t, 404, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil)
	s.must(t, 200, station, "GET", "/v1/devices/"+fi.Device.ID+"/certificates/"+fi.Device.FactoryCert, nil)

	// Custody: factory → distributor, accepted.
	var tr struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	s.must(t, 201, station, "POST", "/v1/transfers", map[string]any{"to": "northwind", "device_ids": []string{fi.Device.ID}}).json(t, &tr)
	s.must(t, 404, oscar, "POST", "/v1/transfers/"+tr.ID+"/accept", nil) // not a side of it: hidden
	s.must(t, 403, station, "POST", "/v1/transfers/"+tr.ID+"/accept", nil)
	s.must(t, 200, dana, "POST", "/v1/transfers/"+tr.ID+"/accept", nil).json(t, &tr)
	if tr.State != "accepted" {
		t.Fatalf("transfer = %+v", tr)
	}
	s.must(t, 409, dana, "POST", "/v1/transfers/"+tr.ID+"/refuse", nil)
	// A transfer carries its device count; its devices are listed page by page.
	var shown map[string]any
	s.must(t, 200, station, "GET", "/v1/transfers/"+tr.ID, nil).json(t, &shown)
	if _, ok := shown["device_ids"]; ok || shown["device_count"] != float64(1) {
		t.Errorf("transfer = %v, want device_count 1 and no device_ids", shown)
	}
	var devs struct {
		Items     []string `json:"items"`
		NextAfter string   `json:"next_after"`
	}
	s.must(t, 200, dana, "GET", "/v1/transfers/"+tr.ID+"/devices?limit=1", nil).json(t, &devs)
	if len(devs.Items) != 1 || devs.Items[0] != fi.Device.ID || devs.NextAfter != fi.Device.ID {
		t.Errorf("transfer devices = %+v, want %s and a cursor (the page is full)", devs, fi.Device.ID)
	}
	devs.Items, devs.NextAfter = nil, ""
	s.must(t, 200, dana, "GET", "/v1/transfers/"+tr.ID+"/devices?after="+fi.Device.ID, nil).json(t, &devs)
	if len(devs.Items) != 0 || devs.NextAfter != "" {
		t.Errorf("transfer devices after the last = %+v, want none", devs)
	}
	s.must(t, 404, oscar, "GET", "/v1/transfers/"+tr.ID+"/devices", nil)
	s.must(t, 400, dana, "GET", "/v1/transfers/"+tr.ID+"/devices?limit=1001", nil)
	// The factory no longer holds it, and no longer sees it; its maker sees it but cannot hand it on.
	s.must(t, 404, station, "POST", "/v1/transfers", map[string]any{"to": "contoso", "device_ids": []string{fi.Device.ID}})
	p = s.must(t, 403, alice, "POST", "/v1/transfers", map[string]any{"to": "contoso", "device_ids": []string{fi.Device.ID}}).problem(t)
	if !strings.Contains(p["detail"].(string), "does not hold") {
		t.Errorf("refusal = %v", p)
	}

	// Two concurrent offers of the same device: exactly one is accepted by the store.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, to := range []string{"contoso", "auditco"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.call(t, dana, "POST", "/v1/transfers", map[string]any{"to": to, "device_ids": []string{fi.Device.ID}}).Status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 201 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 201) {
		t.Fatalf("concurrent offers answered %v, want one 201 and one 409", statuses)
	}

	var view struct {
		CustodianID string `json:"custodian_id"`
		Custody     []struct {
			FromID string `json:"from_party_id"`
			ToID   string `json:"to_party_id"`
		} `json:"custody"`
		Certificates []struct {
			Profile string `json:"profile"`
			State   string `json:"state"`
		} `json:"certificates"`
	}
	s.must(t, 200, dana, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &view)
	if view.CustodianID != "northwind" || len(view.Custody) != 1 || view.Custody[0].FromID != "fabrikam" || len(view.Certificates) != 1 || view.Certificates[0].State != "issued" {
		t.Errorf("device view = %+v", view)
	}

	// Auditors read the log; others may not.
	if n := auditCount(t, s); n < 10 {
		t.Errorf("audit log has %d events, want the seed, lot, issuance and custody events", n)
	}
	s.must(t, 403, alice, "GET", "/v1/audit/events", nil)

	// Tokens are stored hashed: no token appears in the database file.
	db, err := os.ReadFile(s.info.Database)
	if err != nil {
		t.Fatal(err)
	}
	for who, tok := range s.tokens {
		if strings.Contains(string(db), tok) {
			t.Errorf("the database holds %s's token in clear", who)
		}
	}
}

func verifyBuildRecord(t *testing.T, keyPEM, envJSON []byte, certPEM string) {
	t.Helper()
	pub, err := buildrecord.ParsePublicKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	env, err := buildrecord.ParseEnvelope(envJSON)
	if err != nil {
		t.Fatal(err)
	}
	v, err := buildrecord.Verify(env, pub)
	if err != nil {
		t.Fatalf("build record does not verify: %v", err)
	}
	blk, _ := pem.Decode([]byte(certPEM))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := issuance.BuildRecordDigestOf(cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := buildrecord.CheckBinding(v, cert.PublicKey, digest); err != nil {
		t.Fatalf("binding: %v", err)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func splitPEM(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		out = append(out, string(pem.EncodeToMemory(b)))
	}
	if len(out) < 2 {
		t.Fatalf("chain has %d certificates, want issuing and root", len(out))
	}
	return out
}

// TestBadInputChangesNothing sends malformed and refused requests and checks each gets the
// right problem and leaves the audit log (so every state) as it was.
func TestBadInputChangesNothing(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-bad")
	good := newCSR(t, dir, "good")
	weak := newCSR(t, dir, "weak", "-newkey", "rsa:1024")
	issueFactory(t, s, dir, lotID, "lot-bad", "SN-DUP")
	badDigest := record("SN-2", "lot-bad")
	badDigest["firmwareDigest"] = map[string]string{"sha256": "xyz"}
	wrongLot := record("SN-3", "lot-other")
	failed := record("SN-4", "lot-bad")
	failed["testResult"] = "fail"
	extra := record("SN-5", "lot-bad")
	extra["color"] = "red"

	path := "/v1/lots/" + lotID + "/devices"
	cases := []struct {
		name   string
		who    string
		path   string
		body   any
		status int
		kind   string
	}{
		{"oversized body", station, path, []byte(`{"csr":"` + strings.Repeat("A", 2<<20) + `"}`), 413, "too-large"},
		{"not JSON", station, path, []byte(`{"csr":`), 400, "invalid"},
		{"unknown field", station, path, map[string]any{"csr": good, "build_record": record("SN-6", "lot-bad"), "extra": 1}, 400, "invalid"},
		{"trailing data", station, path, []byte(`{"csr":"x"} {}`), 400, "invalid"},
		{"garbage CSR", station, path, map[string]any{"csr": "bm90IGEgY3Ny", "build_record": record("SN-7", "lot-bad")}, 400, "invalid"},
		{"weak key", station, path, map[string]any{"csr": weak, "build_record": record("SN-8", "lot-bad")}, 400, "invalid"},
		{"record schema", station, path, map[string]any{"csr": good, "build_record": badDigest}, 400, "invalid"},
		{"record unknown field", station, path, map[string]any{"csr": good, "build_record": extra}, 400, "invalid"},
		{"record for another lot", station, path, map[string]any{"csr": good, "build_record": wrongLot}, 400, "invalid"},
		{"failed test", station, path, map[string]any{"csr": good, "build_record": failed}, 400, "invalid"},
		{"duplicate serial", station, path, map[string]any{"csr": good, "build_record": record("SN-DUP", "lot-bad")}, 409, "conflict"},
		{"lot not owned", oscar, path, map[string]any{"csr": good, "build_record": record("SN-9", "lot-bad")}, 403, "not-owner"},
		{"unknown lot", station, "/v1/lots/lot_nope/devices", map[string]any{"csr": good, "build_record": record("SN-10", "lot-bad")}, 404, "not-found"},
		{"party by non-admin", alice, "/v1/parties", map[string]any{"id": "evil", "name": "Evil", "kind": "operator"}, 403, "denied"},
		{"bad party kind", deployAdmin, "/v1/parties", map[string]any{"id": "x1", "name": "X", "kind": "pirate"}, 400, "invalid"},
		{"transfer of a device not held", oscar, "/v1/transfers", map[string]any{"to": "northwind", "lot_id": lotID}, 400, "invalid"},
		{"transfer to nobody", station, "/v1/transfers", map[string]any{"to": "ghost", "lot_id": lotID}, 404, "not-found"},
		{"lot by another maker", oscar, "/v1/lots", map[string]any{"model_id": "mdl_x", "name": "l", "issuing_ca_id": "x"}, 404, "not-found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, s)
			r := s.call(t, tc.who, "POST", tc.path, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if p := r.problem(t); p["type"] != "https://hallmark.dev/problems/"+tc.kind || p["detail"] == "" {
				t.Errorf("problem = %v, want type %s with a detail", p, tc.kind)
			}
			if after := auditCount(t, s); after != before {
				t.Errorf("audit log grew from %d to %d: the refused request changed state", before, after)
			}
		})
	}
}

// TestDevRestartReusesData stops the dev server and starts it again on the same folder.
func TestDevRestartReusesData(t *testing.T) {
	requireTool(t, "openssl")
	dir := t.TempDir()
	s := startDev(t, dir)
	lotID := demoLot(t, s, "lot-keep")
	tokens := s.tokens
	s.stop()
	s2 := startDev(t, dir)
	if fmt.Sprint(s2.tokens) != fmt.Sprint(tokens) {
		t.Error("tokens changed across a restart")
	}
	s2.must(t, 200, alice, "GET", "/v1/lots/"+lotID, nil)
	var cas items
	s2.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	if len(cas.Items) != 2 {
		t.Errorf("after restart acme has %d CAs, want the same 2", len(cas.Items))
	}
	_ = time.Second
}
