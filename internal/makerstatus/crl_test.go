package makerstatus

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func sha1Sum(b []byte) []byte { s := sha1.Sum(b); return s[:] }

// idp encodes an issuingDistributionPoint naming uris (none: no distributionPoint), with
// the boolean or reason fields given by tag.
func idp(uris []string, fields ...cbasn1.Tag) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if uris != nil {
			b.AddASN1(idpDistributionPoint, func(b *cryptobyte.Builder) {
				b.AddASN1(idpFullName, func(b *cryptobyte.Builder) {
					for _, u := range uris {
						b.AddASN1(generalNameURI, func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
					}
				})
			})
		}
		for _, f := range fields {
			if f == idpSomeReasons {
				b.AddASN1(f, func(b *cryptobyte.Builder) { b.AddBytes([]byte{0x07, 0x80}) })
				continue
			}
			b.AddASN1(f, func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
		}
	})
	return pkix.Extension{Id: oidIDP, Critical: true, Value: b.BytesOrPanic()}
}

// TestVerifyCRL covers what a CRL must be to be used.
func TestVerifyCRL(t *testing.T) {
	g := newGoMaker(t)
	src := Source{KindCRL, "http://127.0.0.1/go.crl"}
	other := issue(t, g.root, caTemplate("Another CA"))
	week := 7 * 24 * time.Hour
	revoked := big.NewInt(77)
	heldDoc := &crlDoc{thisUpdate: t0.Add(-time.Hour), nextUpdate: t0.Add(week), number: big.NewInt(10)}
	tests := []struct {
		name    string
		der     []byte
		issuer  *ca
		held    *crlDoc
		outcome Outcome // "" for accepted
		msg     string
		scoped  bool
	}{
		{"good", makeCRL(t, g.issuer, 11, t0, t0.Add(week), nil, revoked, big.NewInt(78)), g.issuer, heldDoc, "", "", false},
		{"PEM", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: makeCRL(t, g.issuer, 11, t0, t0.Add(week), nil, revoked)}), g.issuer, nil, "", "", false},
		{"PEM of another type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.device.Raw}), g.issuer, nil, ParseError, "PEM", false},
		{"garbage", []byte("not a CRL"), g.issuer, nil, ParseError, "", false},
		{"a certificate", g.device.Raw, g.issuer, nil, ParseError, "", false},
		{"another issuer", makeCRL(t, other, 11, t0, t0.Add(week), nil), g.issuer, nil, Invalid, "issued by", false},
		{"same name, another key", makeCRL(t, g.impostor, 11, t0, t0.Add(week), nil), g.issuer, nil, BadSignature, "not signed by", false},
		{"thisUpdate in the future", makeCRL(t, g.issuer, 11, t0.Add(time.Hour), t0.Add(week), nil), g.issuer, nil, Stale, "in the future", false},
		{"thisUpdate within the skew", makeCRL(t, g.issuer, 11, t0.Add(time.Minute), t0.Add(week), nil), g.issuer, nil, "", "", false},
		{"nextUpdate passed", makeCRL(t, g.issuer, 11, t0.Add(-2*week), t0.Add(-week), nil), g.issuer, nil, Stale, "has passed", false},
		{"older than held", makeCRL(t, g.issuer, 11, t0.Add(-2*time.Hour), t0.Add(week), nil), g.issuer, heldDoc, Stale, "older than", false},
		{"lower number than held", makeCRL(t, g.issuer, 9, t0, t0.Add(week), nil), g.issuer, heldDoc, Stale, "cRLNumber 9 is lower", false},
		{"delta CRL", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{{Id: oidDeltaCRL, Critical: true, Value: []byte{2, 1, 5}}}), g.issuer, nil, Invalid, "delta", false},
		{"unknown critical extension", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}), g.issuer, nil, Invalid, "critical extension 1.2.3", false},
		{"unknown extension", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}), g.issuer, nil, "", "", false},
		{"partition naming its URL", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{idp([]string{"http://x/other.crl", src.URL}, idpUserCerts)}), g.issuer, nil, "", "", true},
		{"partition naming another URL", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{idp([]string{"http://x/other.crl"})}), g.issuer, nil, Invalid, "not \"http://127.0.0.1/go.crl\"", false},
		{"only user certificates", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{idp(nil, idpUserCerts)}), g.issuer, nil, "", "", false},
		{"only CA certificates", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{idp(nil, idpCACerts)}), g.issuer, nil, Invalid, "onlyContainsCACerts", false},
		{"only some reasons", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{idp(nil, idpSomeReasons)}), g.issuer, nil, Invalid, "onlySomeReasons", false},
		{"indirect", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{idp(nil, idpIndirect)}), g.issuer, nil, Invalid, "indirectCRL", false},
		{"attribute certificates", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{idp(nil, idpAttrCerts)}), g.issuer, nil, Invalid, "onlyContainsAttributeCerts", false},
		{"malformed IDP", makeCRL(t, g.issuer, 11, t0, t0.Add(week), []pkix.Extension{{Id: oidIDP, Critical: true, Value: []byte{0x30, 0x03, 0x81, 0x01, 0x01}}}), g.issuer, nil, Invalid, "malformed", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := verifyCRL(tc.der, src, tc.issuer.cert, tc.held, t0, 5*time.Minute)
			if tc.outcome != "" {
				if err == nil || err.Outcome != tc.outcome || !strings.Contains(err.Error(), tc.msg) || doc != nil {
					t.Fatalf("err = %v, want %s containing %q", err, tc.outcome, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if doc.scoped != tc.scoped || !doc.fresh(t0, 5*time.Minute) {
				t.Errorf("scoped = %v, fresh = %v", doc.scoped, doc.fresh(t0, 5*time.Minute))
			}
		})
	}
	// Lookups: listed serials with their reason and time, others not.
	doc, err := verifyCRL(tests[0].der, src, g.issuer.cert, nil, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := doc.lookup(revoked); !ok || r.Reason != 0 || !r.Time.Equal(t0.Add(-time.Hour)) {
		t.Errorf("lookup(77) = %+v, %v", r, ok)
	}
	if r, ok := doc.lookup(big.NewInt(78)); !ok || r.Reason != 1 {
		t.Errorf("lookup(78) = %+v, %v", r, ok)
	}
	if _, ok := doc.lookup(big.NewInt(79)); ok {
		t.Error("an unlisted serial is revoked")
	}
	if _, ok := doc.lookup(big.NewInt(-77)); ok {
		t.Error("a negative serial matched its magnitude")
	}
}

// TestCRLEntryExtensions refuses CRLs whose entries carry critical extensions it cannot
// honour (an indirect CRL's certificateIssuer among them).
func TestCRLEntryExtensions(t *testing.T) {
	g := newGoMaker(t)
	for name, id := range map[string]asn1.ObjectIdentifier{"certificateIssuer": oidCertificateIssr, "unknown": {1, 2, 3}} {
		t.Run(name, func(t *testing.T) {
			tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: t0, NextUpdate: t0.Add(time.Hour)}
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
				SerialNumber: big.NewInt(5), RevocationTime: t0,
				ExtraExtensions: []pkix.Extension{{Id: id, Critical: true, Value: []byte{0x30, 0x00}}},
			})
			der, err := x509.CreateRevocationList(rand.Reader, tmpl, g.issuer.cert, g.issuer.key)
			if err != nil {
				t.Fatal(err)
			}
			_, serr := verifyCRL(der, Source{KindCRL, "http://x"}, g.issuer.cert, nil, t0, 0)
			if serr == nil || serr.Outcome != Invalid || !strings.Contains(serr.Error(), "entry 0") {
				t.Fatalf("err = %v", serr)
			}
		})
	}
}
