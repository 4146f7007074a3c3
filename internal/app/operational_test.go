package app

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/api"
)

// opEnv makes the demo operator's environment on its seeded operational CA.
func opEnv(t *testing.T, s *devServer, name string, extra map[string]any) string {
	t.Helper()
	var cas struct {
		Items []struct {
			ID    string `json:"id"`
			Role  string `json:"role"`
			Stage string `json:"stage"`
		} `json:"items"`
	}
	s.must(t, 200, oscar, "GET", "/v1/cas", nil).json(t, &cas)
	issuing := ""
	for _, c := range cas.Items {
		if c.Role == "issuing" && c.Stage == "operational" {
			issuing = c.ID
		}
	}
	if issuing == "" {
		t.Fatalf("no operational issuing CA seeded: %+v", cas)
	}
	body := map[string]any{"operator_id": "contoso", "name": name, "site": "Plant 1", "zone": "line-control", "issuing_ca_id": issuing,
		"trust_domain": "contoso.example", "lifetime": "24h", "max_age": "72h", "services": []string{"telemetry"}}
	for k, v := range extra {
		body[k] = v
	}
	var env struct{ ID string }
	s.must(t, 201, oscar, "POST", "/v1/environments", body).json(t, &env)
	return env.ID
}

// deliveredDevice issues a factory identity and hands the device to the operator.
func deliveredDevice(t *testing.T, s *devServer, dir, lotID, lotName, serial string) factoryIdentity {
	t.Helper()
	fi := issueFactory(t, s, dir, lotID, lotName, serial)
	writeFile(t, dir, serial+".factory.pem", fi.CertificatePEM)
	var tr struct{ ID string }
	s.must(t, 201, station, "POST", "/v1/transfers", map[string]any{"to": "contoso", "device_ids": []string{fi.Device.ID}}).json(t, &tr)
	s.must(t, 200, oscar, "POST", "/v1/transfers/"+tr.ID+"/accept", nil)
	return fi
}

// challenge is POST /v1/challenges's answer.
type challenge struct {
	ID            string `json:"id"`
	Nonce         string `json:"nonce"`
	Purpose       string `json:"purpose"`
	EnvironmentID string `json:"environment_id"`
	CSRKeySHA256  string `json:"csr_key_sha256"`
}

// csrKeyHash is the hex SHA-256 of the SubjectPublicKeyInfo of a PEM CSR's key.
func csrKeyHash(t *testing.T, csrPEM string) string {
	t.Helper()
	b, _ := pem.Decode([]byte(csrPEM))
	if b == nil {
		t.Fatalf("no PEM CSR in %q", csrPEM)
	}
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(req.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(spki)
	return hex.EncodeToString(h[:])
}

// askChallenge asks, as who, for a challenge for purpose bound to keyHash: target is the
// environment ID (onboard) or the hex serial of the certificate to renew (renew).
func askChallenge(t *testing.T, s *devServer, who, purpose, target, keyHash string, want int) (challenge, resp) {
	t.Helper()
	req := map[string]string{"purpose": purpose, "csr_key_sha256": keyHash}
	if purpose == "renew" {
		req["certificate_serial"] = target
	} else {
		req["environment_id"] = target
	}
	r := s.must(t, want, who, "POST", "/v1/challenges", req)
	var c challenge
	if want == 201 {
		r.json(t, &c)
	}
	return c, r
}

// signProof signs c's proof message for the CSR key keyHash with keyFile using openssl; the
// message is written out here as docs/design.md gives it.
func signProof(t *testing.T, dir, keyFile string, c challenge, keyHash string) string {
	t.Helper()
	msg := fmt.Sprintf("hallmark-proof-of-possession-v1\npurpose:%s\nenvironment:%s\nnonce:%s\ncsr-key-sha256:%s\n", c.Purpose, c.EnvironmentID, c.Nonce, keyHash)
	if err := os.WriteFile(filepath.Join(dir, "proof.msg"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "openssl", "dgst", "-sha256", "-sign", keyFile, "-out", "sig.bin", "proof.msg")
	sig, err := os.ReadFile(filepath.Join(dir, "sig.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// prove gets oscar a challenge for purpose (onboard into environment target, or renew the
// certificate in the PEM file target) bound to the key of csrPEM, and signs it with keyFile
// using openssl.
func prove(t *testing.T, s *devServer, dir, purpose, target, csrPEM, keyFile string) map[string]string {
	t.Helper()
	if purpose == "renew" {
		target = certInfo(t, dir, target).SerialNumber.Text(16)
	}
	h := csrKeyHash(t, csrPEM)
	c, _ := askChallenge(t, s, oscar, purpose, target, h, 201)
	return map[string]string{"challenge_id": c.ID, "signature": signProof(t, dir, keyFile, c, h)}
}

type identity struct {
	Device struct {
		ID              string `json:"id"`
		State           string `json:"state"`
		OperationalCert string `json:"operational_certificate"`
	} `json:"device"`
	CertificatePEM string `json:"certificate_pem"`
	ChainPEM       string `json:"chain_pem"`
	Evidence       struct {
		Kind          string `json:"kind"`
		BasedOn       string `json:"based_on"`
		Superseded    string `json:"superseded"`
		PolicyVersion int    `json:"policy_version"`
	} `json:"evidence"`
}

func onboard(t *testing.T, s *devServer, dir, envID, serial, opName string, want int) (identity, resp) {
	t.Helper()
	csr := newCSR(t, dir, opName)
	body := map[string]any{"csr": csr, "factory_certificate": read(t, dir, serial+".factory.pem"), "proof": prove(t, s, dir, "onboard", envID, csr, serial+".key"),
		"facts": map[string]any{"firmware_digest": strings.Repeat("0f", 32), "hardware_revision": "B"}}
	r := s.must(t, want, oscar, "POST", "/v1/environments/"+envID+"/onboard", body)
	var id identity
	if want == 201 {
		r.json(t, &id)
		writeFile(t, dir, opName+".pem", id.CertificatePEM)
	}
	return id, r
}

func renew(t *testing.T, s *devServer, dir, curName, nextName string, facts map[string]any, want int) (identity, resp) {
	t.Helper()
	csr := newCSR(t, dir, nextName)
	body := map[string]any{"csr": csr, "current_certificate": read(t, dir, curName+".pem"), "proof": prove(t, s, dir, "renew", curName+".pem", csr, curName+".key"), "facts": facts}
	r := s.must(t, want, oscar, "POST", "/v1/renewals", body)
	var id identity
	if want == 201 {
		r.json(t, &id)
		writeFile(t, dir, nextName+".pem", id.CertificatePEM)
	}
	return id, r
}

var goodFacts = map[string]any{"firmware_digest": strings.Repeat("0f", 32), "hardware_revision": "B"}

// TestOperationalLifecycle drives onboarding, renewal, a denied renewal, runtime revocation
// with re-admission, and a lot revocation with its cascade, through the HTTPS API, checking
// every operational certificate with `openssl verify`.
func TestOperationalLifecycle(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-ops")
	envID := opEnv(t, s, "plant-1", nil)
	fi := deliveredDevice(t, s, dir, lotID, "lot-ops", "SN-OP1")

	// Onboarding: origin proof for environment trust.
	id, _ := onboard(t, s, dir, envID, "SN-OP1", "op1", 201)
	if id.Device.State != "active" || id.Evidence.Kind != "onboard" || id.Evidence.BasedOn != fi.Device.FactoryCert || id.Evidence.PolicyVersion != 1 {
		t.Fatalf("onboarded identity = %+v", id)
	}
	chain := splitPEM(t, id.ChainPEM)
	writeFile(t, dir, "op-issuing.pem", chain[0])
	writeFile(t, dir, "op-root.pem", chain[1])
	verifyOp := func(name string) {
		t.Helper()
		if out := run(t, dir, "openssl", "verify", "-CAfile", "op-root.pem", "-untrusted", "op-issuing.pem", name+".pem"); !strings.Contains(out, ": OK") {
			t.Fatalf("openssl verify %s: %s", name, out)
		}
	}
	verifyOp("op1")
	text := run(t, dir, "openssl", "x509", "-in", "op1.pem", "-noout", "-text")
	if !strings.Contains(text, "URI:spiffe://contoso.example/env/plant-1/device/"+fi.Device.ID) || !strings.Contains(text, "1.3.6.1.4.1.32473.7601.1.2") {
		t.Errorf("operational certificate lacks the SPIFFE ID or the factory reference:\n%s", text)
	}

	// Relying parties see the status at the URL the certificate names (AIA), with openssl.
	ocsp := func(name, want string) {
		t.Helper()
		url := strings.TrimSpace(run(t, dir, "openssl", "x509", "-in", name+".pem", "-noout", "-ocsp_uri"))
		if url == "" {
			t.Fatalf("%s carries no OCSP URL", name)
		}
		out := run(t, dir, "openssl", "ocsp", "-issuer", "op-issuing.pem", "-cert", name+".pem", "-url", url, "-CAfile", "op-root.pem")
		if !strings.Contains(out, name+".pem: "+want) {
			t.Fatalf("openssl ocsp for %s: %s, want %s", name, out, want)
		}
	}
	ocsp("op1", "good")

	// Renewal with the current key and today's facts.
	id2, _ := renew(t, s, dir, "op1", "op2", goodFacts, 201)
	if id2.Evidence.Kind != "renew" || id2.Evidence.BasedOn != id.Device.OperationalCert || id2.Evidence.Superseded != id.Device.OperationalCert {
		t.Errorf("renewal evidence = %+v", id2.Evidence)
	}
	verifyOp("op2")
	// The superseded certificate cannot renew again.
	renew(t, s, dir, "op1", "op-x", goodFacts, 409)

	// A denied renewal names the rule: the device now reports firmware its build record does not.
	strict := map[string]any{"rules": []map[string]string{
		{"name": "firmware-matches", "expr": "facts.firmware_digest == build_record.firmware_digest", "message": "reported firmware differs from the build record"},
	}}
	s.setPolicy(t, oscar, olivia, envID, "renewal", strict, 202)
	_, r := renew(t, s, dir, "op2", "op3", map[string]any{"firmware_digest": strings.Repeat("ee", 32)}, 403)
	if p := r.problem(t); !strings.Contains(p["detail"].(string), "firmware-matches") || !strings.Contains(p["detail"].(string), "v2") {
		t.Errorf("denial = %v, want rule firmware-matches of policy v2", p)
	}
	id3, _ := renew(t, s, dir, "op2", "op3", goodFacts, 201)
	if id3.Evidence.PolicyVersion != 2 {
		t.Errorf("renewal recorded policy v%d, want 2", id3.Evidence.PolicyVersion)
	}

	// Runtime revocation quarantines the device; its factory identity is untouched.
	s.must(t, 400, oscar, "POST", "/v1/devices/"+fi.Device.ID+"/revoke", map[string]string{"reason": "cACompromise"})
	s.must(t, 403, alice, "POST", "/v1/devices/"+fi.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	var d struct{ State string }
	s.must(t, 200, oscar, "POST", "/v1/devices/"+fi.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"}).json(t, &d)
	if d.State != "quarantined" {
		t.Fatalf("after runtime revocation the device is %q", d.State)
	}
	var view struct {
		Certificates []struct {
			Serial  string `json:"serial"`
			Profile string `json:"profile"`
			State   string `json:"state"`
		} `json:"certificates"`
		Lineage []struct {
			Kind string `json:"kind"`
		} `json:"lineage"`
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &view)
	for _, c := range view.Certificates {
		if c.Profile == "factory" && c.State != "issued" {
			t.Errorf("runtime revocation touched the factory identity: %+v", c)
		}
		if c.Profile == "operational" && c.State != "revoked" {
			t.Errorf("operational certificate %s is %s after a runtime revocation, want revoked (superseded ones included)", c.Serial, c.State)
		}
	}
	renew(t, s, dir, "op3", "op4", goodFacts, 403)
	onboard(t, s, dir, envID, "SN-OP1", "op4", 403)
	ocsp("op3", "revoked")
	ocsp("op1", "revoked") // superseded at the first renewal
	// Re-admission is explicit, then the device onboards again and the lineage keeps it all.
	readmit(t, s, fi.Device.ID)
	onboard(t, s, dir, envID, "SN-OP1", "op5", 201)
	verifyOp("op5")
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &view)
	kinds := []string{}
	for _, l := range view.Lineage {
		kinds = append(kinds, l.Kind)
	}
	if strings.Join(kinds, ",") != "onboard,renew,renew,onboard" {
		t.Errorf("lineage = %v", kinds)
	}

	// Manufacturing revocation of the lot: dry run first, then the cascade.
	second := deliveredDevice(t, s, dir, lotID, "lot-ops", "SN-OP2") // held by the operator, never onboarded
	sel := map[string]any{"selector": map[string]string{"manufacturer_id": "acme", "lot_id": lotID}, "reason": "keyCompromise"}
	s.must(t, 403, oscar, "POST", "/v1/manufacturing/revocations", sel)
	var dry struct {
		DryRun  bool `json:"dry_run"`
		Factory []struct {
			DeviceID string `json:"device_id"`
		}
		Suspended []struct {
			DeviceID string `json:"device_id"`
			Serial   string `json:"serial"`
		}
	}
	s.must(t, 200, alice, "POST", "/v1/manufacturing/revocations", sel).json(t, &dry)
	if !dry.DryRun || len(dry.Factory) != 2 || len(dry.Suspended) != 1 || dry.Suspended[0].DeviceID != fi.Device.ID {
		t.Fatalf("dry run = %+v", dry)
	}
	// With a limit (what the console asks for): the first rows, the whole dry run's counts.
	var limited api.FactoryRevokeResult
	s.must(t, 200, alice, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": sel["selector"], "reason": "keyCompromise", "limit": 1}).json(t, &limited)
	if c := limited.Counts; !limited.DryRun || len(limited.Factory) != 1 || limited.Factory[0].DeviceID != dry.Factory[0].DeviceID || c.Factory != 2 || c.Suspended != 1 ||
		len(c.Environments) != 1 || c.Environments[0] != (api.EnvironmentCount{EnvironmentID: envID, Suspended: 1}) || len(limited.Suspended) != 1 || limited.Suspended[0].DeviceID != fi.Device.ID {
		t.Fatalf("limited dry run = %+v, want the first of 2 factory identities and the 1 suspension in %s", limited, envID)
	}
	s.must(t, 400, alice, "POST", "/v1/manufacturing/revocations", map[string]any{"selector": sel["selector"], "reason": "keyCompromise", "limit": 1, "dry_run": false})
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != "active" {
		t.Fatalf("the dry run changed the device: %s", d.State)
	}
	sel["dry_run"] = false
	var done struct {
		RunID     string `json:"run_id"`
		Factory   []any  `json:"factory"`
		Suspended []any  `json:"suspended"`
		Skipped   int    `json:"already_revoked"`
	}
	s.must(t, 201, alice, "POST", "/v1/manufacturing/revocations", sel).json(t, &done)
	if len(done.Factory) != 2 || len(done.Suspended) != 1 {
		t.Fatalf("revocation = %+v", done)
	}
	var cascade struct {
		Items []struct{ Action string } `json:"items"`
	}
	s.must(t, 200, alice, "GET", "/v1/manufacturing/revocations/"+done.RunID, nil).json(t, &cascade)
	if len(cascade.Items) != 3 {
		t.Errorf("cascade items = %+v, want 2 factory-revoked and 1 operational-suspended", cascade.Items)
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+fi.Device.ID, nil).json(t, &d)
	if d.State != "suspended" {
		t.Errorf("device with an operational identity is %s, want suspended", d.State)
	}
	s.must(t, 200, oscar, "GET", "/v1/devices/"+second.Device.ID, nil).json(t, &d)
	if d.State != "factory-revoked" {
		t.Errorf("device without an operational identity is %s, want factory-revoked", d.State)
	}
	renew(t, s, dir, "op5", "op6", goodFacts, 403) // suspended: cannot renew
	// A re-run changes nothing.
	before := auditCount(t, s)
	var again struct {
		Factory []any `json:"factory"`
		Skipped int   `json:"already_revoked"`
	}
	s.must(t, 201, alice, "POST", "/v1/manufacturing/revocations", sel).json(t, &again)
	if len(again.Factory) != 0 || again.Skipped != 2 {
		t.Errorf("re-run = %+v, want nothing revoked and 2 already revoked", again)
	}
	if after := auditCount(t, s); after-before != 2 { // the re-run's start and finish only
		t.Errorf("re-run appended %d audit events, want 2 (start, finish)", after-before)
	}
	// The operator decides: re-admission lifts the hold; the factory identity stays revoked.
	if d.State = string(readmit(t, s, fi.Device.ID).State); d.State != "active" {
		t.Errorf("after re-admission the device is %s", d.State)
	}
	onboard(t, s, dir, envID, "SN-OP1", "op7", 403) // the factory identity is revoked for good
}

// TestOnboardingRefusals checks that bad onboarding input gets a clear error and changes nothing.
func TestOnboardingRefusals(t *testing.T) {
	requireTool(t, "openssl")
	s := startDev(t, "")
	dir := t.TempDir()
	lotID := demoLot(t, s, "lot-r")
	envID := opEnv(t, s, "plant-r", nil)
	held := issueFactory(t, s, dir, lotID, "lot-r", "SN-R1") // still at the factory
	writeFile(t, dir, "SN-R1.factory.pem", held.CertificatePEM)
	deliveredDevice(t, s, dir, lotID, "lot-r", "SN-R2")
	// A device from an unknown maker.
	run(t, dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "SN-X.key",
		"-subj", "/CN=SN-X", "-days", "30", "-out", "SN-X.factory.pem")
	newCSR(t, dir, "SN-R2-reuse")

	good := func(serial string) map[string]any {
		csr := newCSR(t, dir, "op-"+serial)
		return map[string]any{"csr": csr, "factory_certificate": read(t, dir, serial+".factory.pem"), "proof": prove(t, s, dir, "onboard", envID, csr, serial+".key"), "facts": goodFacts}
	}
	factoryKeyCSR := good("SN-R2")
	run(t, dir, "openssl", "req", "-new", "-key", "SN-R2.key", "-subj", "/CN=same", "-out", "same.csr")
	factoryKeyCSR["csr"] = read(t, dir, "same.csr")
	wrongSig := good("SN-R2")
	wrongSig["proof"] = prove(t, s, dir, "onboard", envID, wrongSig["csr"].(string), "SN-R2-reuse.key")
	reused := good("SN-R2")
	s.must(t, 201, oscar, "POST", "/v1/environments/"+envID+"/onboard", reused) // consumes the challenge
	cases := []struct {
		name   string
		who    string
		body   map[string]any
		status int
	}{
		{"device held by another party", oscar, good("SN-R1"), 403},
		{"unknown maker", oscar, good("SN-X"), 400},
		{"CSR with the factory key", oscar, factoryKeyCSR, 400},
		{"signature by another key", oscar, wrongSig, 403},
		{"challenge used twice", oscar, reused, 403},
		{"not the operator", alice, good("SN-R2"), 403},
		{"garbage certificate", oscar, map[string]any{"csr": "x", "factory_certificate": "nope", "proof": map[string]string{"challenge_id": "c", "signature": "s"}}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, s)
			r := s.call(t, tc.who, "POST", "/v1/environments/"+envID+"/onboard", tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if p := r.problem(t); p["detail"] == "" {
				t.Errorf("no detail: %v", p)
			}
			if after := auditCount(t, s); after != before {
				t.Errorf("audit log grew %d → %d", before, after)
			}
		})
	}
	// A policy that does not compile is refused and the environment keeps its version.
	bad := map[string]any{"rules": []map[string]string{{"name": "broken", "expr": "device.state =="}}}
	s.setPolicy(t, oscar, olivia, envID, "onboarding", bad, 400)
	s.must(t, 400, oscar, "POST", "/v1/environments", map[string]any{"operator_id": "contoso", "name": "bad-pol", "issuing_ca_id": "x", "trust_domain": "t", "lifetime": "24h", "max_age": "72h", "onboarding_policy": bad})
	var env struct {
		Onboarding struct{ Version int } `json:"onboarding_policy"`
	}
	s.must(t, 200, oscar, "GET", "/v1/environments/"+envID, nil).json(t, &env)
	if env.Onboarding.Version != 1 {
		t.Errorf("onboarding policy version %d after a refused update, want 1", env.Onboarding.Version)
	}
}
