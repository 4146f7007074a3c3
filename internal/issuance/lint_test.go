package issuance

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// TestLintMatchesZlint: Linter.Lint, which runs each profile's lints itself, gives the
// warnings and failures zlint.LintCertificateEx gives over the same registry, for clean
// certificates of every profile and for deliberately bad ones (lintTestCerts). Two of the
// bad ones fail configurable lints, which Linter configures once and copies (certLint):
// e_subj_contains_html_entities and e_rsa_fermat_factorization, whose 100 rounds come from
// its constructor and survive the configuration and the copy.
func TestLintMatchesZlint(t *testing.T) {
	l := linter(t)
	for _, p := range Profiles {
		var configurable []string
		for _, cl := range l.registries[p].lints {
			if cl.proto != nil {
				configurable = append(configurable, cl.Name)
			}
		}
		// Every profile has some (the two above); otherwise this test would not cover them.
		if !slices.Contains(configurable, "e_subj_contains_html_entities") || !slices.Contains(configurable, "e_rsa_fermat_factorization") {
			t.Errorf("%s: configurable lints %q", p, configurable)
		}
	}
	certs := lintTestCerts(t)

	factoryWarned, factoryFailed, factoryErr := map[string]bool{}, map[string]bool{}, map[string]string{}
	for name, c := range certs {
		for _, p := range Profiles {
			t.Run(fmt.Sprintf("%s as %s", name, p), func(t *testing.T) {
				reg, err := profileRegistry(p)
				if err != nil {
					t.Fatal(err)
				}
				zc, err := zx509.ParseCertificate(c.Raw)
				if err != nil {
					t.Fatal(err)
				}
				var wantWarn, wantFail []string
				for n, r := range zlint.LintCertificateEx(zc, reg).Results {
					switch r.Status {
					case lint.Error, lint.Fatal:
						wantFail = append(wantFail, resultLine(n, r))
					case lint.Warn:
						wantWarn = append(wantWarn, resultLine(n, r))
					}
				}
				slices.Sort(wantWarn)
				slices.Sort(wantFail)
				warn, err := l.Lint(p, c.Raw)
				if p == ProfileFactory {
					factoryWarned[name], factoryFailed[name] = len(warn) > 0, err != nil
					if err != nil {
						factoryErr[name] = err.Error()
					}
				}
				if !slices.Equal(warn, wantWarn) {
					t.Errorf("warnings %q, zlint gives %q", warn, wantWarn)
				}
				if len(wantFail) == 0 {
					if err != nil {
						t.Errorf("Lint: %v; zlint finds no error", err)
					}
					return
				}
				want := fmt.Sprintf("lint: %s certificate fails %s", p, strings.Join(wantFail, "; "))
				if err == nil || err.Error() != want {
					t.Errorf("Lint: %v\nwant %s", err, want)
				}
			})
		}
	}
	// The bad certificates must be caught, or the comparison proves nothing.
	for _, name := range []string{"bad common name", "bad empty SAN", "bad key usage", "bad HTML entity", "bad close RSA primes"} {
		if !factoryFailed[name] {
			t.Errorf("%s: the factory lints let it pass", name)
		}
	}
	for name, lint := range map[string]string{"bad HTML entity": "e_subj_contains_html_entities", "bad close RSA primes": "e_rsa_fermat_factorization"} {
		if !strings.Contains(factoryErr[name], lint+": ") {
			t.Errorf("%s: the factory lints give %q, not %s", name, factoryErr[name], lint)
		}
	}
	if !factoryWarned["bad trailing whitespace"] {
		t.Error("bad trailing whitespace: the factory lints give no warning")
	}
	if factoryFailed["clean factory"] || factoryWarned["clean factory"] {
		t.Error("the clean factory certificate does not lint clean")
	}
}

// lintTestCerts returns certificates to lint: a clean one of every profile, under one
// hierarchy, and bad ones (an over-long common name, an empty subjectAltName, DNs with
// trailing whitespace, a factory certificate without its digitalSignature key usage, an
// HTML entity in the subject, an RSA key whose primes are neighbours).
func lintTestCerts(t testing.TB) map[string]*x509.Certificate {
	t.Helper()
	h := newHierarchy(t, "ecdsa-p256")
	certs := map[string]*x509.Certificate{}
	for p, c := range h.leaves(t, "ecdsa-p256") {
		certs["clean "+string(p)] = c
	}
	certs["clean "+string(ProfileIssuingCA)] = h.issuing
	certs["clean "+string(ProfileRootCA)] = h.root

	// Bad certificates are made with crypto/x509 directly under a CA whose name ends in a
	// space: Prepare would refuse them (and the templates cannot express them).
	badCA := *h.issuing
	badCA.Subject = pkix.Name{CommonName: "Trailing Space CA ", Organization: []string{"Test Maker"}}
	badCA.RawSubject = nil
	caDER, err := x509.CreateCertificate(rand.Reader, &badCA, h.root, h.issuingKey.Public(), h.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	parent, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	bad := func(name string, edit func(*x509.Certificate)) {
		tm, err := FactoryTemplate(factoryParams(newKey(t, "ecdsa-p256").Public()))
		if err != nil {
			t.Fatal(err)
		}
		tm.SerialNumber, _ = NewSerial(time.Now(), rand.Reader)
		edit(tm)
		der, err := x509.CreateCertificate(rand.Reader, tm, parent, tm.PublicKey, h.issuingKey)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		certs[name], _ = x509.ParseCertificate(der)
	}
	bad("bad common name", func(c *x509.Certificate) { c.Subject.CommonName = strings.Repeat("x", 65) })
	bad("bad empty SAN", func(c *x509.Certificate) { c.ExtraExtensions[0].Value = []byte{0x30, 0x00} })
	bad("bad trailing whitespace", func(c *x509.Certificate) { c.Subject.Organization = []string{"Test Maker "} })
	bad("bad key usage", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign })
	bad("bad HTML entity", func(c *x509.Certificate) { c.Subject.Organization = []string{"Test &amp; Maker"} })
	bad("bad close RSA primes", func(c *x509.Certificate) { c.PublicKey = closePrimesKey(t) })
	return certs
}

// closePrimesKey returns an RSA public key whose modulus is the product of a 1024-bit prime
// and the next prime, which Fermat's method factors in its first round.
func closePrimesKey(t testing.TB) *rsa.PublicKey {
	t.Helper()
	p, err := rand.Prime(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	q := new(big.Int).Add(p, big.NewInt(2))
	for !q.ProbablyPrime(0) {
		q.Add(q, big.NewInt(2))
	}
	return &rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}
}
