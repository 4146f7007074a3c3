package voucher

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func openssl(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestCMSWithOpenSSL: openssl verifies a CMS voucher signed here and reads its eContentType
// as id-ct-animaJSONVoucher; a voucher openssl signs with that eContentType verifies here.
func TestCMSWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	p := newPKI(t, "masa")
	payload, err := Voucher{CreatedOn: time.Now().UTC(), Assertion: Logged, SerialNumber: "SN-OSSL", PinnedDomainCert: p.root.Raw, Nonce: []byte("n")}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := SignCMS(payload, p.signer)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "v.cms"), signed, 0o600)
	writePEM(t, filepath.Join(dir, "root.pem"), "CERTIFICATE", p.root.Raw)
	out := openssl(t, dir, "cms", "-verify", "-inform", "DER", "-in", "v.cms", "-CAfile", "root.pem", "-purpose", "any", "-binary", "-out", "content.json")
	content, _ := os.ReadFile(filepath.Join(dir, "content.json"))
	if !bytes.Equal(content, payload) {
		t.Fatalf("openssl read %q (%s), want the payload", content, out)
	}
	if asn := openssl(t, dir, "cms", "-cmsout", "-print", "-inform", "DER", "-in", "v.cms"); !regexp.MustCompile(`eContentType: .*1\.2\.840\.113549\.1\.9\.16\.1\.40`).Match(asn) {
		t.Fatalf("openssl sees another eContentType:\n%s", asn)
	}

	// The other way: openssl signs, this package verifies.
	key, err := x509MarshalPKCS8(p)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "leaf.key"), "PRIVATE KEY", key)
	writePEM(t, filepath.Join(dir, "leaf.pem"), "CERTIFICATE", p.signer.Chain[0].Raw)
	os.WriteFile(filepath.Join(dir, "payload.json"), payload, 0o600)
	openssl(t, dir, "cms", "-sign", "-in", "payload.json", "-signer", "leaf.pem", "-inkey", "leaf.key", "-binary", "-nodetach",
		"-econtent_type", "1.2.840.113549.1.9.16.1.40", "-outform", "DER", "-out", "o.cms", "-md", "sha256")
	o, _ := os.ReadFile(filepath.Join(dir, "o.cms"))
	s, err := VerifyCMS(o, VerifyOptions{Roots: p.pool, Now: time.Now()})
	if err != nil {
		t.Fatalf("openssl's CMS voucher: %v", err)
	}
	if !bytes.Equal(s.Payload, payload) || !s.Signer.Equal(p.signer.Chain[0]) {
		t.Fatal("openssl's CMS voucher: another payload or signer")
	}
}

// TestJWSHeader: a JWS voucher is the General JSON serialization with one signature whose
// protected header is {alg, typ: voucher-jws+json, x5c: the chain} (draft-ietf-anima-jws-voucher).
func TestJWSHeader(t *testing.T) {
	p := newPKI(t, "masa")
	signed, err := SignJWS([]byte(`{"ietf-voucher:voucher":{}}`), p.signer)
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]json.RawMessage
	if err := json.Unmarshal(signed, &g); err != nil || len(g) != 2 || g["payload"] == nil || g["signatures"] == nil {
		t.Fatalf("not the General JSON serialization: %s", signed)
	}
	var sigs []map[string]string
	json.Unmarshal(g["signatures"], &sigs)
	if len(sigs) != 1 || len(sigs[0]) != 2 {
		t.Fatalf("signatures %v, want one with protected and signature only", sigs)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sigs[0]["protected"])
	var h struct {
		Alg string   `json:"alg"`
		Typ string   `json:"typ"`
		X5c []string `json:"x5c"`
	}
	json.Unmarshal(raw, &h)
	if h.Alg != "ES256" || h.Typ != "voucher-jws+json" || len(h.X5c) != 2 || h.X5c[0] != base64.StdEncoding.EncodeToString(p.signer.Chain[0].Raw) {
		t.Fatalf("protected header %s", raw)
	}
}
