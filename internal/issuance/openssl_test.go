package issuance

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not on PATH; skipping the interoperability check")
	}
	return path
}

// TestOpenSSLVerify checks every leaf profile with `openssl verify` for every CA key type
// (the leaf's purpose is left to its EKU: -purpose is not given).
func TestOpenSSLVerify(t *testing.T) {
	openssl := needOpenSSL(t)
	for _, kind := range keyTypes {
		t.Run(kind, func(t *testing.T) {
			h := newHierarchy(t, kind)
			dir := t.TempDir()
			root := writePEM(t, dir, "root.pem", h.root)
			issuing := writePEM(t, dir, "issuing.pem", h.issuing)
			for p, c := range h.leaves(t, kind) {
				t.Run(string(p), func(t *testing.T) {
					leaf := writePEM(t, dir, string(p)+".pem", c)
					// -attime: the certificates are issued at the fixed test time.
					out, err := exec.Command(openssl, "verify", "-attime", "1772366400", "-CAfile", root, "-untrusted", issuing, leaf).CombinedOutput()
					if err != nil || !strings.Contains(string(out), ": OK") {
						t.Fatalf("openssl verify: %v\n%s", err, out)
					}
				})
			}
		})
	}
}

// TestOpenSSLShowsHardwareModuleName checks that OpenSSL decodes the factory certificate's
// otherName hardwareModuleName and the build record digest extension.
func TestOpenSSLShowsHardwareModuleName(t *testing.T) {
	openssl := needOpenSSL(t)
	h := newHierarchy(t, "ecdsa-p256")
	f := h.leaves(t, "ecdsa-p256")[ProfileFactory]
	path := writePEM(t, t.TempDir(), "factory.pem", f)
	out, err := exec.Command(openssl, "x509", "-noout", "-text", "-in", path).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"X509v3 Subject Alternative Name",
		"serialNumber = SN-0001",
		"1.3.6.1.4.1.32473.7601.1.1", // the build record digest extension
		"TLS Web Client Authentication",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
		}
	}
	// OpenSSL 3.0 prints the otherName's type but not its value ("<unsupported>"); later
	// versions name it. Either way the type must be id-on-hardwareModuleName.
	if !strings.Contains(text, "othername: 1.3.6.1.5.5.7.8.4") && !strings.Contains(strings.ToLower(text), "hardware module name") && !strings.Contains(text, "HardwareModuleName") {
		t.Errorf("openssl x509 -text shows no hardwareModuleName otherName:\n%s", text)
	}

	// The value, through asn1parse of the SAN extension.
	out, err = exec.Command(openssl, "asn1parse", "-in", path).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl asn1parse: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	offset := ""
	for i, l := range lines {
		if strings.Contains(l, "X509v3 Subject Alternative Name") && i+1 < len(lines) {
			offset = strings.TrimSpace(strings.SplitN(lines[i+1], ":", 2)[0])
		}
	}
	if offset == "" {
		t.Fatalf("no SAN in asn1parse output:\n%s", out)
	}
	out, err = exec.Command(openssl, "asn1parse", "-in", path, "-strparse", offset).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl asn1parse -strparse: %v\n%s", err, out)
	}
	for _, want := range []string{":1.3.6.1.5.5.7.8.4", ":1.3.6.1.4.1.32473.7601.2.1", "OCTET STRING      :SN-0001"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("SAN asn1parse lacks %q:\n%s", want, out)
		}
	}
}

// TestOpenSSLPartitionCRL checks a partition CRL with `openssl verify -crl_check`: a
// certificate whose CRL distribution point names the partition is found revoked or good by
// it, and one that names another partition is not covered by it at all (the critical
// issuingDistributionPoint scopes the CRL, RFC 5280 section 5.2.5), while the full CRL still
// covers every certificate.
func TestOpenSSLPartitionCRL(t *testing.T) {
	openssl := needOpenSSL(t)
	h := newHierarchy(t, "ecdsa-p256")
	dir := t.TempDir()
	const base = "http://hallmark.example/crl/ca-1"
	leaf := func(name, cdp string) (*x509.Certificate, string) {
		p := factoryParams(newKey(t, "ecdsa-p256").Public())
		p.CRLDistributionPoints = []string{cdp}
		tmpl, err := FactoryTemplate(p)
		if err != nil {
			t.Fatal(err)
		}
		c := h.issue(t, ProfileFactory, tmpl) // linted with the partition CDP before signing
		return c, writePEM(t, dir, name, c)
	}
	revoked, revokedPEM := leaf("revoked.pem", base+"-3.crl")
	_, goodPEM := leaf("good.pem", base+"-3.crl")
	_, otherPEM := leaf("other.pem", base+"-4.crl")
	crlPEM := func(name string, p CRLParams) string {
		der, err := h.issuer.SignCRL(p, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	entries := []CRLEntry{{Serial: revoked.SerialNumber.Bytes(), RevokedAt: now, Reason: 1}}
	part := crlPEM("part3.pem", CRLParams{Number: 7, ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour), Entries: entries, DistributionPoint: base + "-3.crl"})
	full := crlPEM("full.pem", CRLParams{Number: 8, ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour), Entries: entries})
	chain := writePEM(t, dir, "chain.pem", h.issuing, h.root)
	for _, tc := range []struct {
		name, cert, crl, want string
	}{
		{"revoked in its partition", revokedPEM, part, "error 23 at 0 depth lookup: certificate revoked"},
		{"good in its partition", goodPEM, part, ": OK"},
		{"another partition's certificate", otherPEM, part, "error 44 at 0 depth lookup: different CRL scope"},
		{"revoked in the full CRL", revokedPEM, full, "error 23 at 0 depth lookup: certificate revoked"},
		{"another partition's certificate in the full CRL", otherPEM, full, ": OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := exec.Command(openssl, "verify", "-attime", strconv.FormatInt(now.Add(time.Hour).Unix(), 10), "-crl_check",
				"-CAfile", chain, "-CRLfile", tc.crl, tc.cert).CombinedOutput()
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("openssl verify -crl_check: want %q in\n%s", tc.want, out)
			}
		})
	}
}
