package issuance

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// TestFactoryUndefinedNotAfter issues a factory certificate with 802.1AR's "no well-defined
// expiration": its notAfter is encoded as the GeneralizedTime 99991231235959Z, it lints
// without errors or warnings, and crypto/x509 and openssl verify it under an issuing CA
// that expires long before. Only that exact value, and only for a factory certificate, may
// pass the issuer's notAfter.
func TestFactoryUndefinedNotAfter(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	pub := newKey(t, "ecdsa-p256").Public()
	p := factoryParams(pub)
	p.NotAfter = UndefinedNotAfter
	p.OCSPServer = []string{"http://status.example/ocsp/ca-1"}
	p.CRLDistributionPoints = []string{"http://status.example/crl/ca-1-3.crl"}
	tmpl, err := FactoryTemplate(p)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := h.issuer.Prepare(ProfileFactory, tmpl, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if w := pr.Warnings(); len(w) != 0 {
		t.Errorf("lint warnings: %v", w)
	}
	c, err := h.issuer.Sign(pr)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotAfter.Equal(UndefinedNotAfter) {
		t.Fatalf("notAfter %s", c.NotAfter)
	}
	// GeneralizedTime (tag 24), length 15, "99991231235959Z" (RFC 5280 section 4.1.2.5).
	if !bytes.Contains(c.RawTBSCertificate, append([]byte{0x18, 0x0f}, "99991231235959Z"...)) {
		t.Error("notAfter is not the GeneralizedTime 99991231235959Z")
	}
	if !c.NotAfter.After(h.issuing.NotAfter) {
		t.Fatal("the test's issuing CA does not expire before the factory certificate")
	}
	h.verify(t, c)

	if openssl, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		root, issuing, leaf := writePEM(t, dir, "root.pem", h.root), writePEM(t, dir, "issuing.pem", h.issuing), writePEM(t, dir, "leaf.pem", c)
		out, err := exec.Command(openssl, "verify", "-attime", "1772366400", "-CAfile", root, "-untrusted", issuing, leaf).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl verify: %v\n%s", err, out)
		}
		out, err = exec.Command(openssl, "x509", "-in", leaf, "-noout", "-enddate").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "notAfter=Dec 31 23:59:59 9999 GMT" {
			t.Errorf("openssl x509 -enddate: %v %s", err, out)
		}
	}

	refuse := func(name string, profile Profile, tmpl *x509.Certificate, err error) {
		t.Helper()
		if err == nil {
			_, err = h.issuer.Prepare(profile, tmpl, rand.Reader)
		}
		if !failure.Is(err, failure.Invalid) {
			t.Errorf("%s: err = %v, want kind invalid", name, err)
		}
	}
	near := factoryParams(pub)
	near.NotAfter = UndefinedNotAfter.Add(-time.Second)
	tm, err := FactoryTemplate(near)
	refuse("factory one second before 99991231235959Z", ProfileFactory, tm, err)
	op, err := OperationalTemplate(operationalParams(pub, c))
	if err == nil {
		op.NotAfter = UndefinedNotAfter
	}
	refuse("operational with 99991231235959Z", ProfileOperational, op, err)
	sp, err := SupportTemplate(supportParams(pub))
	if err == nil {
		sp.NotAfter = UndefinedNotAfter
	}
	refuse("support with 99991231235959Z", ProfileSupport, sp, err)
}

// TestIssuingCAStatusPointers checks that an issuing CA certificate carries the AIA (OCSP,
// caIssuers) and CRL distribution point of its root when given, lints clean with them
// (in particular without w_distribution_point_missing_ldap_or_uri), and that a root or a
// non-HTTP URL is refused.
func TestIssuingCAStatusPointers(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	pub := newKey(t, "ecdsa-p256").Public()
	params := CAParams{Profile: ProfileIssuingCA, CommonName: "Pointed Issuing CA", Organization: "Test Maker", PublicKey: pub,
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(5, 0, 0),
		OCSPServer: []string{"http://status.example/ocsp/ca-root"}, IssuingCertificateURL: []string{"http://status.example/ca/ca-root.cer"},
		CRLDistributionPoints: []string{"http://status.example/crl/ca-root.crl"}}
	tmpl, err := CATemplate(params)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := h.rootIssuer.Prepare(ProfileIssuingCA, tmpl, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range pr.Warnings() {
		if strings.HasPrefix(w, "w_distribution_point_missing_ldap_or_uri") {
			t.Error(w)
		}
	}
	c, err := h.rootIssuer.Sign(pr)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(c.OCSPServer, params.OCSPServer) || !equal(c.IssuingCertificateURL, params.IssuingCertificateURL) || !equal(c.CRLDistributionPoints, params.CRLDistributionPoints) {
		t.Errorf("AIA OCSP %v caIssuers %v CDP %v", c.OCSPServer, c.IssuingCertificateURL, c.CRLDistributionPoints)
	}

	root := params
	root.Profile = ProfileRootCA
	if _, err := CATemplate(root); !failure.Is(err, failure.Invalid) {
		t.Errorf("a root with AIA: err = %v", err)
	}
	bad := params
	bad.CRLDistributionPoints = []string{"ldap://status.example/crl"}
	if _, err := CATemplate(bad); !failure.Is(err, failure.Invalid) {
		t.Errorf("an ldap CRL distribution point: err = %v", err)
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }
