//go:build pkcs11 && cgo

package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"golang.org/x/mod/sumdb/note"

	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

// The tests in this file need a hallmark built with -tags pkcs11 and CGO_ENABLED=1, and
// SoftHSM2; .ci/run runs them with `go test -tags pkcs11 -run HSM ./internal/app/`.
func TestMain(m *testing.M) { hsmtest.Main(m) }

// hsmToken makes a SoftHSM token and opens the PKCS#11 provider over it.
func hsmToken(t *testing.T, prefix string, module string) (*pkcs11.Provider, string, string) {
	t.Helper()
	label, pin := hsmtest.Token(t, prefix)
	if module == "" {
		module = hsmtest.Module
	}
	p, err := pkcs11.Open(pkcs11.Config{ModulePath: module, Token: label, PIN: keys.Secret(pin)})
	if err != nil {
		t.Fatalf("opening the token: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p, label, pin
}

// keyMetrics reads hallmark_keys_operations_total by operation/result and hallmark_keys_up.
func keyMetrics(t *testing.T, a *App) (map[string]float64, float64) {
	t.Helper()
	mfs, err := a.Metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	ops, up := map[string]float64{}, -1.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "hallmark_keys_operations_total":
				ops[label(m, "operation")+"/"+label(m, "result")] = m.GetCounter().GetValue()
			case "hallmark_keys_up":
				up = m.GetGauge().GetValue()
			}
		}
	}
	return ops, up
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestHSMIssuanceCRLOCSP runs the demo deployment with every key in SoftHSM2: factory and
// operational issuance, a revocation seen over OCSP and in the CRL (both checked by openssl),
// and a signed audit checkpoint, all through the HTTP API. No key file is written; the token
// holds every key, sensitive and never extractable.
func TestHSMIssuanceCRLOCSP(t *testing.T) {
	requireTool(t, "openssl")
	kp, label, pin := hsmToken(t, "hsm-api", "")
	s, a := statusServerKeys(t, kp)
	dir := t.TempDir()

	lotID := demoLot(t, s, "lot-hsm")
	envID := opEnv(t, s, "plant-hsm", nil)
	good := deliveredDevice(t, s, dir, lotID, "lot-hsm", "SN-HG")
	onboard(t, s, dir, envID, "SN-HG", "hg-op", 201)
	bad := deliveredDevice(t, s, dir, lotID, "lot-hsm", "SN-HR")
	onboard(t, s, dir, envID, "SN-HR", "hr-op", 201)
	mf := splitPEM(t, good.ChainPEM)
	writeFile(t, dir, "mf-issuing.pem", mf[0])
	writeFile(t, dir, "mf-root.pem", mf[1])
	writeFile(t, dir, "mf-chain.pem", mf[0]+mf[1])
	if out := run(t, dir, "openssl", "verify", "-CAfile", "mf-chain.pem", "SN-HG.factory.pem"); !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify of a factory certificate signed in the HSM:\n%s", out)
	}
	s.must(t, 200, oscar, "POST", "/v1/devices/"+bad.Device.ID+"/revoke", map[string]string{"reason": "keyCompromise"})
	// The operational chain, from the CA list.
	var cas struct {
		Items []struct {
			ID, Role, Stage, Name string
			CertificatePEM        string `json:"certificate_pem"`
			KeyID                 string `json:"key_id"`
		} `json:"items"`
	}
	s.must(t, 200, oscar, "GET", "/v1/cas", nil).json(t, &cas)
	var opIssuing, opRoot string
	for _, c := range cas.Items {
		if c.Name == "contoso-ops" {
			opIssuing = c.CertificatePEM
		}
		if c.Name == "contoso-ops-root" {
			opRoot = c.CertificatePEM
		}
	}
	writeFile(t, dir, "op-issuing.pem", opIssuing)
	writeFile(t, dir, "op-root.pem", opRoot)
	writeFile(t, dir, "op-chain.pem", opIssuing+opRoot)
	if got := ocspCheck(t, dir, "op-issuing.pem", "hg-op.pem", "op-root.pem"); got != "good" {
		t.Errorf("OCSP of a good certificate: %q", got)
	}
	waitUntil(t, "OCSP and the CRL show the revocation", func() bool {
		return strings.HasPrefix(ocspCheck(t, dir, "op-issuing.pem", "hr-op.pem", "op-root.pem"), "revoked") &&
			strings.Contains(crlCheck(t, s, dir, "hr-op.pem", "op-chain.pem"), "certificate revoked")
	})
	if out := crlCheck(t, s, dir, "SN-HG.factory.pem", "mf-chain.pem"); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify -crl_check with an HSM-signed manufacturing CRL:\n%s", out)
	}

	// The audit checkpoint is signed by the Ed25519 key in the token.
	vkey := strings.TrimSpace(string(s.must(t, 200, "", "GET", "/v1/audit/key", nil).Body))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cp := s.must(t, 200, audrey, "POST", "/v1/audit/checkpoint", nil).Body
	if _, err := note.Open(cp, note.VerifierList(v)); err != nil {
		t.Fatalf("the checkpoint does not verify with %s: %v", vkey, err)
	}

	// Every key is in the token, and none in a file.
	if m, _ := filepath.Glob(filepath.Join(s.dir, "keys", "*")); len(m) != 0 {
		t.Fatalf("key files written: %v", m)
	}
	out := hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--list-objects", "--type", "privkey")
	for _, want := range []string{"label:      audit-checkpoint", "label:      brk-", "label:      ocsp-ca-", "label:      ca-"} {
		if !strings.Contains(out, want) {
			t.Errorf("the token holds no key %q:\n%s", want, out)
		}
	}
	if n, ne := strings.Count(out, "Private Key Object"), strings.Count(out, "never extractable"); n < 8 || ne != n {
		t.Errorf("%d private keys in the token, %d never extractable:\n%s", n, ne, out)
	}
	for _, c := range cas.Items {
		if c.KeyID != "" && strings.Contains(c.KeyID, ":") {
			t.Errorf("a CA made by the server records a key URI %q; want its key ID", c.KeyID)
		}
	}
	ops, up := keyMetrics(t, a)
	if ops["sign/ok"] < 10 || up != 1 || ops["sign/device"] != 0 {
		t.Errorf("metrics: %v, up %v", ops, up)
	}
}

// waitUntil polls fn for up to 10 s (a bound, not a performance assertion).
func waitUntil(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
