package issuance

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math/big"
	"testing"
	"time"
)

func crlEntries(n int) []CRLEntry {
	es := make([]CRLEntry, n)
	reasons := []int{0, 1, 4, 5, 6}
	for i := range es {
		s := make([]byte, 16)
		_, _ = rand.Read(s)
		s[0] &= 0x7f
		binary.BigEndian.PutUint32(s[12:], uint32(i)) // unique
		if i%3 == 0 {
			s[0] |= 0x80 // exercise the leading zero of a negative-looking INTEGER
		}
		es[i] = CRLEntry{Serial: s, RevokedAt: now.Add(-time.Duration(i) * time.Second), Reason: reasons[i%len(reasons)]}
	}
	return es
}

// TestSignCRLMatchesStdlib checks the hand-built CRL against crypto/x509's parser, entry by
// entry, for every key type, and that zlint passes it.
func TestSignCRLMatchesStdlib(t *testing.T) {
	for _, kind := range keyTypes {
		t.Run(kind, func(t *testing.T) {
			h := newHierarchy(t, kind)
			es := crlEntries(300)
			es = append(es, CRLEntry{Serial: []byte{0, 0, 5}, RevokedAt: time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC), Reason: 9})
			der, err := h.issuer.SignCRL(CRLParams{Number: 42, ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour), Entries: es}, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(h.issuing); err != nil {
				t.Fatal(err)
			}
			if crl.Number.Int64() != 42 || !crl.ThisUpdate.Equal(now) || !crl.NextUpdate.Equal(now.Add(24*time.Hour)) || string(crl.AuthorityKeyId) != string(h.issuing.SubjectKeyId) {
				t.Errorf("header: number %v this %v next %v aki %x", crl.Number, crl.ThisUpdate, crl.NextUpdate, crl.AuthorityKeyId)
			}
			if len(crl.RevokedCertificateEntries) != len(es) {
				t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(es))
			}
			for i, e := range crl.RevokedCertificateEntries {
				want := es[i]
				if e.SerialNumber.Cmp(new(big.Int).SetBytes(want.Serial)) != 0 || !e.RevocationTime.Equal(want.RevokedAt.Truncate(time.Second)) || e.ReasonCode != want.Reason {
					t.Fatalf("entry %d = %v %v %d, want %x %v %d", i, e.SerialNumber, e.RevocationTime, e.ReasonCode, want.Serial, want.RevokedAt, want.Reason)
				}
			}
		})
	}
}

// TestLargeCRLCheck runs the structural check that replaces the parser above
// crlParseCheckMax entries, on a CRL the standard library then parses, and on tampered ones.
func TestLargeCRLCheck(t *testing.T) {
	defer func(v int) { crlParseCheckMax = v }(crlParseCheckMax)
	crlParseCheckMax = 10
	h := newHierarchy(t, "ecdsa-p256")
	es := crlEntries(200)
	der, err := h.issuer.SignCRL(CRLParams{Number: 7, ThisUpdate: now, NextUpdate: now.Add(time.Hour), Entries: es}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || len(crl.RevokedCertificateEntries) != 200 || crl.CheckSignatureFrom(h.issuing) != nil {
		t.Fatalf("parse: %v", err)
	}
	tbs := crl.RawTBSRevocationList
	if err := h.issuer.checkCRL(der, tbs, 201); err == nil {
		t.Error("a wrong entry count passed")
	}
	bad := append([]byte(nil), der...)
	bad[len(bad)-5] ^= 0xff // in the signature
	if err := h.issuer.checkCRL(bad, tbs, 200); err == nil {
		t.Error("a broken signature passed")
	}
}

func TestSignCRLRefusals(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	ok := CRLParams{Number: 1, ThisUpdate: now, NextUpdate: now.Add(time.Hour)}
	cases := []struct {
		name string
		mod  func(p *CRLParams)
	}{
		{"zero number", func(p *CRLParams) { p.Number = 0 }},
		{"next before this", func(p *CRLParams) { p.NextUpdate = now.Add(-time.Hour) }},
		{"zero serial", func(p *CRLParams) { p.Entries = []CRLEntry{{Serial: []byte{0}, RevokedAt: now}} }},
		{"reason 7", func(p *CRLParams) { p.Entries = []CRLEntry{{Serial: []byte{1}, RevokedAt: now, Reason: 7}} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.mod(&p)
			if _, err := h.issuer.SignCRL(p, rand.Reader); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := h.issuer.SignCRL(ok, rand.Reader); err != nil {
		t.Errorf("empty CRL: %v", err)
	}
	p := ok
	p.DistributionPoint = "http://hallmark.example/crl/ca-1-0.crl"
	der, err := h.issuer.SignCRL(p, rand.Reader)
	if err != nil {
		t.Fatalf("partitioned CRL: %v", err)
	}
	if _, err := x509.ParseRevocationList(der); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSignCRL measures building, linting (a sample), signing and checking a CRL.
// go test -run '^$' -bench BenchmarkSignCRL -benchtime 3x ./internal/issuance/
func BenchmarkSignCRL(b *testing.B) {
	h := newHierarchy(b, "ecdsa-p256")
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		es := crlEntries(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var size int
			for b.Loop() {
				der, err := h.issuer.SignCRL(CRLParams{Number: 1, ThisUpdate: now, NextUpdate: now.Add(time.Hour), Entries: es}, rand.Reader)
				if err != nil {
					b.Fatal(err)
				}
				size = len(der)
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

// BenchmarkStdlibCRL is the standard library's CreateRevocationList on the same entries, for
// comparison.
func BenchmarkStdlibCRL(b *testing.B) {
	h := newHierarchy(b, "ecdsa-p256")
	es := crlEntries(1_000_000)
	rc := make([]x509.RevocationListEntry, len(es))
	for i, e := range es {
		rc[i] = x509.RevocationListEntry{SerialNumber: new(big.Int).SetBytes(e.Serial), RevocationTime: e.RevokedAt, ReasonCode: e.Reason}
	}
	for b.Loop() {
		if _, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: rc}, h.issuing, h.issuingKey); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFactoryStatusPointers checks that a factory certificate carries AIA OCSP and a CRL
// distribution point when given, lints clean with them, and refuses non-HTTP URLs.
func TestFactoryStatusPointers(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	p := factoryParams(newKey(t, "ecdsa-p256").Public())
	p.OCSPServer = []string{"http://hallmark.example/ocsp/ca-1"}
	p.CRLDistributionPoints = []string{"http://hallmark.example/crl/ca-1.crl"}
	tmpl, err := FactoryTemplate(p)
	if err != nil {
		t.Fatal(err)
	}
	c := h.issue(t, ProfileFactory, tmpl)
	if len(c.OCSPServer) != 1 || c.OCSPServer[0] != p.OCSPServer[0] || len(c.CRLDistributionPoints) != 1 || c.CRLDistributionPoints[0] != p.CRLDistributionPoints[0] {
		t.Errorf("AIA %v CDP %v", c.OCSPServer, c.CRLDistributionPoints)
	}
	p.CRLDistributionPoints = []string{"ldap://hallmark.example/crl"}
	if _, err := FactoryTemplate(p); err == nil {
		t.Error("an ldap CRL distribution point was accepted")
	}
}

// TestFactoryMASAURL checks that a factory certificate carries id-pe-masa-url when given,
// lints clean with it, reads back, and refuses a URL that is not https.
func TestFactoryMASAURL(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	p := factoryParams(newKey(t, "ecdsa-p256").Public())
	p.MASAURL = "https://masa.hallmark.example:8443"
	tmpl, err := FactoryTemplate(p)
	if err != nil {
		t.Fatal(err)
	}
	c := h.issue(t, ProfileFactory, tmpl)
	if u, err := ParseMASAURL(c); err != nil || u != p.MASAURL {
		t.Fatalf("MASA URL %q, %v", u, err)
	}
	for _, bad := range []string{"http://masa.example", "https://", "masa example", "https://user@masa.example"} {
		p.MASAURL = bad
		if _, err := FactoryTemplate(p); err == nil {
			t.Errorf("MASA URL %q accepted", bad)
		}
	}
}
