package app

import (
	"bytes"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"

	"github.com/hallmark-id/hallmark/internal/issuance"
)

// plainGet fetches url over plain HTTP (no TLS configuration at all), as a relying party
// fetches status, and returns the body, failing unless it is 200 with content type ct.
func plainGet(t *testing.T, url, ct string) []byte {
	t.Helper()
	if !strings.HasPrefix(url, "http://") {
		t.Fatalf("%s is not a plain http URL", url)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ct {
		t.Fatalf("GET %s: %d %s, want 200 %s", url, res.StatusCode, res.Header.Get("Content-Type"), ct)
	}
	return b
}

// pemCRL writes a DER CRL as PEM to dir/name with openssl, and returns its contents.
func pemCRL(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".der"), der, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "openssl", "crl", "-inform", "DER", "-in", name+".der", "-out", name+".pem")
	return read(t, dir, name+".pem")
}

// cdpLint is zlint's RFC 5280 lint that every end-entity certificate with an https-only
// CRL distribution point used to fail with a warning.
const cdpLint = "w_distribution_point_missing_ldap_or_uri"

// checkCDPLint runs cdpLint alone on cert and fails unless it passes.
func checkCDPLint(t *testing.T, name string, cert *x509.Certificate) {
	t.Helper()
	l := lint.GlobalRegistry().CertificateLints().ByName(cdpLint)
	if l == nil {
		t.Fatalf("zlint has no lint %s", cdpLint)
	}
	zc, err := zx509.ParseCertificate(cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if r := l.Execute(zc, lint.NewEmptyConfig()); r.Status != lint.Pass {
		t.Errorf("%s: %s is %s (%s), want pass", name, cdpLint, r.Status, r.Details)
	}
}

// TestStatusPlainHTTPWholeChain runs the dev server and, through the real HTTPS API, issues
// a factory identity (under the seeded hierarchy, whose factory validity is the default,
// "undefined") and onboards it. Then, as a relying party elsewhere would, it fetches every
// CRL a certificate of the two chains names over the plain-HTTP status listener (status_url
// in dev.json) and runs `openssl verify -crl_check_all` on each whole chain; asks the root's
// OCSP responder about the issuing CA with `openssl ocsp`; asks with GnuTLS `ocsptool --ask`
// at the URL the leaf names; and checks that the leaves pass zlint's CRL distribution point
// lint and that the factory certificate never expires (802.1AR's 99991231235959Z) yet
// passes the default factory-current rule at onboarding.
func TestStatusPlainHTTPWholeChain(t *testing.T) {
	requireTool(t, "openssl")
	requireTool(t, "curl")
	s := startDev(t, "")
	dir := t.TempDir()
	base := s.info.StatusURL
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("dev.json status_url %q, want http://127.0.0.1:PORT", base)
	}

	var cas struct {
		Items []struct {
			ID              string `json:"id"`
			Role            string `json:"role"`
			Stage           string `json:"stage"`
			FactoryValidity string `json:"factory_validity"`
		} `json:"items"`
	}
	s.must(t, 200, alice, "GET", "/v1/cas", nil).json(t, &cas)
	for _, c := range cas.Items {
		if want := map[bool]string{true: "undefined", false: ""}[c.Role == "issuing" && c.Stage == "manufacturing"]; c.FactoryValidity != want {
			t.Errorf("CA %s (%s %s): factory_validity %q, want %q", c.ID, c.Stage, c.Role, c.FactoryValidity, want)
		}
	}

	lotID := demoLot(t, s, "lot-status")
	envID := opEnv(t, s, "plant-status", nil)
	fi := deliveredDevice(t, s, dir, lotID, "lot-status", "SN-ST1")
	id, _ := onboard(t, s, dir, envID, "SN-ST1", "op1", 201) // the default onboarding policy holds factory-current
	chains := map[string][]string{"SN-ST1.factory": splitPEM(t, fi.ChainPEM), "op1": splitPEM(t, id.ChainPEM)}

	factory := certInfo(t, dir, "SN-ST1.factory.pem")
	if !factory.NotAfter.Equal(issuance.UndefinedNotAfter) {
		t.Errorf("factory notAfter %s, want 9999-12-31T23:59:59Z", factory.NotAfter)
	}
	if out := run(t, dir, "openssl", "x509", "-in", "SN-ST1.factory.pem", "-noout", "-enddate"); strings.TrimSpace(out) != "notAfter=Dec 31 23:59:59 9999 GMT" {
		t.Errorf("openssl x509 -enddate: %s", out)
	}

	for leaf, chain := range chains {
		if len(chain) != 2 {
			t.Fatalf("%s: chain of %d certificates, want issuing CA and root", leaf, len(chain))
		}
		writeFile(t, dir, leaf+".issuing.pem", chain[0])
		writeFile(t, dir, leaf+".root.pem", chain[1])
		leafCert, issuing, root := certInfo(t, dir, leaf+".pem"), certInfo(t, dir, leaf+".issuing.pem"), certInfo(t, dir, leaf+".root.pem")
		checkCDPLint(t, leaf, leafCert)

		// Every pointer of the leaf and of its issuing CA is plain http on the status listener.
		for _, u := range append(append(append(append([]string{}, leafCert.OCSPServer...), leafCert.CRLDistributionPoints...), issuing.OCSPServer...), append(issuing.CRLDistributionPoints, issuing.IssuingCertificateURL...)...) {
			if !strings.HasPrefix(u, base+"/") {
				t.Errorf("%s: URL %s is not on the status listener %s", leaf, u, base)
			}
		}
		if len(issuing.OCSPServer) != 1 || len(issuing.CRLDistributionPoints) != 1 || len(issuing.IssuingCertificateURL) != 1 {
			t.Fatalf("%s's issuing CA: AIA OCSP %v, CDP %v, caIssuers %v; want one of each", leaf, issuing.OCSPServer, issuing.CRLDistributionPoints, issuing.IssuingCertificateURL)
		}
		// caIssuers serves the root, DER.
		if got := plainGet(t, issuing.IssuingCertificateURL[0], "application/pkix-cert"); !bytes.Equal(got, root.Raw) {
			t.Errorf("%s: caIssuers %s is not the root certificate", leaf, issuing.IssuingCertificateURL[0])
		}

		// The CRLs of the whole chain: the leaf's partition CRL with Go's plain HTTP client,
		// the root's with curl.
		leafCRL := pemCRL(t, dir, leaf+".leafcrl", plainGet(t, leafCert.CRLDistributionPoints[0], "application/pkix-crl"))
		run(t, dir, "curl", "-sSf", "--max-time", "30", "-o", leaf+".rootcrl.der", issuing.CRLDistributionPoints[0])
		rootDER, err := os.ReadFile(filepath.Join(dir, leaf+".rootcrl.der"))
		if err != nil {
			t.Fatal(err)
		}
		rootCRL := pemCRL(t, dir, leaf+".rootcrl", rootDER)
		crl, err := x509.ParseRevocationList(rootDER)
		if err != nil || crl.CheckSignatureFrom(root) != nil {
			t.Fatalf("%s: the root CRL does not parse or is not signed by the root: %v", leaf, err)
		}
		writeFile(t, dir, leaf+".crls.pem", leafCRL+rootCRL)
		out := run(t, dir, "openssl", "verify", "-crl_check_all", "-CAfile", leaf+".root.pem", "-untrusted", leaf+".issuing.pem", "-CRLfile", leaf+".crls.pem", leaf+".pem")
		if !strings.Contains(out, leaf+".pem: OK") {
			t.Errorf("%s: openssl verify -crl_check_all: %s", leaf, out)
		}
		// Without the root's CRL the same check fails: it is what makes the chain checkable.
		out, err = runErr(dir, "openssl", "verify", "-crl_check_all", "-CAfile", leaf+".root.pem", "-untrusted", leaf+".issuing.pem", "-CRLfile", leaf+".leafcrl.pem", leaf+".pem")
		if err == nil || !strings.Contains(out, "unable to get certificate CRL") {
			t.Errorf("%s: openssl verify -crl_check_all without the root CRL: %v\n%s", leaf, err, out)
		}

		// The root's OCSP responder answers for the issuing CA, at the URL it carries.
		out = run(t, dir, "openssl", "ocsp", "-issuer", leaf+".root.pem", "-cert", leaf+".issuing.pem", "-url", issuing.OCSPServer[0], "-CAfile", leaf+".root.pem")
		if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, leaf+".issuing.pem: good") {
			t.Errorf("%s: openssl ocsp for the issuing CA: %s", leaf, out)
		}
		// And the leaf's OCSP at its plain-HTTP URL, with GET (openssl uses POST above).
		if out := ocspCheck(t, dir, leaf+".issuing.pem", leaf+".pem", leaf+".root.pem"); !strings.HasPrefix(out, "good") {
			t.Errorf("%s: openssl ocsp: %s", leaf, out)
		}

		// GnuTLS, an independent implementation, fetches the leaf's OCSP URL by itself.
		requireTool(t, "ocsptool")
		out = run(t, dir, "ocsptool", "--ask", "--load-cert", leaf+".pem", "--load-issuer", leaf+".issuing.pem")
		if !strings.Contains(out, "Certificate Status: good") || !strings.Contains(out, "Verifying OCSP Response: Success.") {
			t.Errorf("%s: ocsptool --ask: %s", leaf, out)
		}
	}

	// Certificates issued before the plain-HTTP listener keep their https URLs: the HTTPS
	// listener still serves the same paths.
	res, err := s.http.Get(s.info.APIURL + strings.TrimPrefix(certInfo(t, dir, "op1.pem").CRLDistributionPoints[0], base))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Errorf("the HTTPS listener's CRL path: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
