package makerstatus

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "make the openssl samples in testdata/ again (needs openssl)")

// The samples in testdata/ come from the openssl maker of maker_test.go (go test -run
// TestSamples -update): its issuing CA and two devices, a CRL revoking the second, and the
// answers of `openssl ocsp -index` for both, with a nonce.

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(sample(t, name))
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sampleTime is a time at which every sample is fresh: the CRL's thisUpdate.
func sampleTime(t testing.TB) time.Time {
	t.Helper()
	crl, err := x509.ParseRevocationList(sample(t, "crl.der"))
	if err != nil {
		t.Fatal(err)
	}
	return crl.ThisUpdate.Add(time.Minute)
}

// TestSamples checks that the openssl samples verify; with -update it makes them again.
func TestSamples(t *testing.T) {
	if *update {
		m := newMaker(t)
		ck := newChecker(t, Config{})
		files := map[string][]byte{
			"issuer.pem":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.inter.Raw}),
			"device1.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.devices[0].Raw}),
			"device2.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.devices[1].Raw}),
			"crl.der":     m.makeCRL(),
		}
		for i, name := range []string{"ocsp-good.der", "ocsp-revoked.der"} {
			id, err := newCertID(m.inter, m.devices[i].SerialNumber, crypto.SHA1)
			if err != nil {
				t.Fatal(err)
			}
			req, err := buildRequest(id, make([]byte, nonceLen))
			if err != nil {
				t.Fatal(err)
			}
			src := Source{KindOCSP, m.ocspURL}
			f, serr := ck.f.fetch(context.Background(), src, http.MethodPost, m.ocspURL, req, "application/ocsp-request", 20*time.Second, 1<<16)
			if serr != nil {
				t.Fatal(serr)
			}
			files[name] = f.body
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	issuer, now := sampleCert(t, "issuer.pem"), sampleTime(t)
	doc, err := verifyCRL(sample(t, "crl.der"), Source{KindCRL, "http://x"}, issuer, nil, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.lookup(sampleCert(t, "device2.pem").SerialNumber); !ok || len(doc.entries) != 1 {
		t.Errorf("the CRL does not list device 2 alone")
	}
	for i, want := range []Status{Good, Revoked} {
		dev := sampleCert(t, []string{"device1.pem", "device2.pem"}[i])
		id, _ := newCertID(issuer, dev.SerialNumber, crypto.SHA1)
		a, err := verifyOCSP(sample(t, []string{"ocsp-good.der", "ocsp-revoked.der"}[i]), Source{KindOCSP, "http://x"}, issuer, id, make([]byte, nonceLen), now, 0, time.Hour)
		if err != nil || a.status != want || !a.nonce {
			t.Errorf("device %d: %+v, %v", i+1, a, err)
		}
	}
}

func checkOutcome(t *testing.T, err *SourceError) {
	t.Helper()
	if err == nil || !slices.Contains(Outcomes, err.Outcome) || err.Outcome == OK || err.Err == nil {
		t.Fatalf("error without a failing outcome: %#v", err)
	}
}

// FuzzVerifyCRL checks that verifyCRL never panics, reports every refusal with an outcome,
// and accepts nothing but the sample's signed content.
func FuzzVerifyCRL(f *testing.F) {
	f.Add(sample(f, "crl.der"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: sample(f, "crl.der")}))
	issuer, now := sampleCert(f, "issuer.pem"), sampleTime(f)
	src := Source{KindCRL, "http://127.0.0.1/inter.crl"}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := verifyCRL(data, src, issuer, nil, now, time.Minute)
		if err != nil {
			checkOutcome(t, err)
			return
		}
		if len(doc.entries) != 1 {
			t.Fatalf("a CRL with %d entries verified", len(doc.entries))
		}
	})
}

// FuzzVerifyOCSP checks that the OCSP decoder and verifier never panic, report every refusal
// with an outcome, and accept nothing but the samples' signed answers.
func FuzzVerifyOCSP(f *testing.F) {
	f.Add(sample(f, "ocsp-good.der"))
	f.Add(sample(f, "ocsp-revoked.der"))
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x06})
	issuer, now := sampleCert(f, "issuer.pem"), sampleTime(f)
	var ids []certID
	for _, name := range []string{"device1.pem", "device2.pem"} {
		id, err := newCertID(issuer, sampleCert(f, name).SerialNumber, crypto.SHA1)
		if err != nil {
			f.Fatal(err)
		}
		ids = append(ids, id)
	}
	src := Source{KindOCSP, "http://127.0.0.1/ocsp"}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseOCSPResponse(data)
		for i, id := range ids {
			a, err := verifyOCSP(data, src, issuer, id, nil, now, time.Minute, time.Hour)
			if err != nil {
				checkOutcome(t, err)
				continue
			}
			if want := []Status{Good, Revoked}[i]; a.status != want {
				t.Fatalf("device %d verified as %s", i+1, a.status)
			}
		}
	})
}

// FuzzCheckIDP checks the issuingDistributionPoint reader (reached only by signed CRLs).
func FuzzCheckIDP(f *testing.F) {
	f.Add(idp([]string{"http://127.0.0.1/inter.crl"}, idpUserCerts).Value)
	f.Add(idp(nil, idpCACerts, idpSomeReasons).Value)
	f.Add(idp([]string{"http://a", "http://b"}, idpIndirect, idpAttrCerts).Value)
	f.Fuzz(func(t *testing.T, data []byte) {
		if scoped, err := checkIDP(data, "http://127.0.0.1/inter.crl"); scoped && err != nil {
			t.Fatal("scoped and refused")
		}
	})
}
