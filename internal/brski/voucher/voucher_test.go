package voucher

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

// base64encodedvalue is what the RFC examples put in every binary leaf.
var base64encodedvalue, _ = base64.StdEncoding.DecodeString("base64encodedvalue==")

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestRFC8366Example reads the voucher of RFC 8366 section 5.2 as erratum 6646 corrects it,
// and refuses the original, whose boolean is a string.
func TestRFC8366Example(t *testing.T) {
	v, err := Parse(read(t, "rfc8366-5.2-erratum6646.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Voucher{
		CreatedOn: at("2016-10-07T19:31:42Z"), ExpiresOn: at("2016-10-21T19:31:42Z"), Assertion: Verified,
		SerialNumber: "JADA123456789", IDevIDIssuer: base64encodedvalue, PinnedDomainCert: base64encodedvalue,
		LastRenewalDate: at("2017-10-07T19:31:42Z"),
	}
	if v.DomainCertRevocationChecks == nil || !*v.DomainCertRevocationChecks {
		t.Fatalf("domain-cert-revocation-checks = %v, want true", v.DomainCertRevocationChecks)
	}
	v.DomainCertRevocationChecks = nil
	if !equalVoucher(v, want) {
		t.Fatalf("parsed %+v\nwant   %+v", v, want)
	}
	// The round trip keeps every leaf.
	v.DomainCertRevocationChecks = new(bool)
	out, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out)
	if err != nil || !equalVoucher(back, v) || *back.DomainCertRevocationChecks {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	if _, err := Parse(read(t, "rfc8366-5.2-original.json")); err == nil || !strings.Contains(err.Error(), "6646") {
		t.Fatalf("the uncorrected example: %v, want a refusal naming erratum 6646", err)
	}
}

func equalVoucher(a, b Voucher) bool {
	return a.CreatedOn.Equal(b.CreatedOn) && a.ExpiresOn.Equal(b.ExpiresOn) && a.Assertion == b.Assertion &&
		a.SerialNumber == b.SerialNumber && bytes.Equal(a.IDevIDIssuer, b.IDevIDIssuer) &&
		bytes.Equal(a.PinnedDomainCert, b.PinnedDomainCert) && bytes.Equal(a.Nonce, b.Nonce) &&
		a.LastRenewalDate.Equal(b.LastRenewalDate) && (a.DomainCertRevocationChecks == nil) == (b.DomainCertRevocationChecks == nil)
}

// TestRFC8995Examples reads the three voucher requests of RFC 8995 section 3.3 (Examples 1 to
// 3). They were checked field by field against draft-ietf-anima-bootstrapping-keyinfra-42
// section 3.3 (the published RFC text itself was not available; see docs/brski.md). Example 3,
// the offline registrar request, has neither nonce nor prior-signed-voucher-request.
func TestRFC8995Examples(t *testing.T) {
	nonce, _ := base64.StdEncoding.DecodeString("62a2e7693d82fcda2624de58fb6722e5")
	for _, tc := range []struct {
		file string
		want Request
	}{
		{"rfc8995-3.3-pledge.json", Request{Assertion: Proximity, Nonce: nonce, SerialNumber: "JADA123456789", CreatedOn: at("2017-01-01T00:00:00Z"), ProximityRegistrarCert: base64encodedvalue}},
		{"rfc8995-3.3-registrar.json", Request{Assertion: Proximity, Nonce: nonce, CreatedOn: at("2017-01-01T00:00:02Z"), IDevIDIssuer: base64encodedvalue, SerialNumber: "JADA123456789", PriorSignedVoucherRequest: base64encodedvalue}},
		{"rfc8995-3.3-registrar-nonceless.json", Request{CreatedOn: at("2017-01-01T00:00:02Z"), IDevIDIssuer: base64encodedvalue, SerialNumber: "JADA123456789"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := ParseRequest(read(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if !r.CreatedOn.Equal(w.CreatedOn) || r.Assertion != w.Assertion || r.SerialNumber != w.SerialNumber ||
				!bytes.Equal(r.Nonce, w.Nonce) || !bytes.Equal(r.IDevIDIssuer, w.IDevIDIssuer) ||
				!bytes.Equal(r.ProximityRegistrarCert, w.ProximityRegistrarCert) || !bytes.Equal(r.PriorSignedVoucherRequest, w.PriorSignedVoucherRequest) {
				t.Fatalf("parsed %+v\nwant   %+v", r, w)
			}
		})
	}
}

// TestParseRefuses covers documents that must not parse.
func TestParseRefuses(t *testing.T) {
	good := string(read(t, "rfc8366-5.2-erratum6646.json"))
	for name, doc := range map[string]string{
		"unknown leaf":       strings.Replace(good, `"assertion"`, `"colour": "red", "assertion"`, 1),
		"duplicate leaf":     strings.Replace(good, `"assertion": "verified",`, `"assertion": "verified", "assertion": "logged",`, 1),
		"case-folded leaf":   strings.Replace(good, `"assertion"`, `"Assertion"`, 1),
		"unknown assertion":  strings.Replace(good, `"verified"`, `"trusted"`, 1),
		"no pinned cert":     strings.Replace(good, `"pinned-domain-cert": "base64encodedvalue==",`, ``, 1),
		"bad time":           strings.Replace(good, `2016-10-07T19:31:42Z`, `yesterday`, 1),
		"expiry before made": strings.Replace(good, `2016-10-21T19:31:42Z`, `2015-10-21T19:31:42Z`, 1),
		"request key":        strings.Replace(good, VoucherKey, RequestKey, 1),
		"trailing data":      good + "{}",
		"not json":           "\x30\x82",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := ParseRequest([]byte(`{"ietf-voucher-request:voucher": {"nonce": "AAAA"}}`)); err == nil {
		t.Error("a request without serial-number parsed")
	}
}

// pki is a throwaway CA and a leaf it signed.
type pki struct {
	root   *x509.Certificate
	signer Signer
	pool   *x509.CertPool
}

func newPKI(t testing.TB, name string) pki {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rk.Public(), rk)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err = x509.CreateCertificate(rand.Reader, lt, root, lk.Public(), rk)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pki{root: root, signer: Signer{Key: lk, Chain: []*x509.Certificate{leaf, root}}, pool: pool}
}

// TestSignVerify signs a voucher in both media, verifies it against its anchor, and refuses
// it against another anchor, tampered, and after its signer expired.
func TestSignVerify(t *testing.T) {
	masa, other := newPKI(t, "masa"), newPKI(t, "other masa")
	v := Voucher{CreatedOn: time.Now().UTC(), Assertion: Logged, SerialNumber: "SN-1", PinnedDomainCert: other.root.Raw, Nonce: []byte("nonce")}
	payload, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, media := range []string{MediaCMS, MediaJWS} {
		t.Run(media, func(t *testing.T) {
			signed, err := Sign(media, payload, masa.signer)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Verify(media, signed, VerifyOptions{Roots: masa.pool, Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Payload, payload) || !s.Signer.Equal(masa.signer.Chain[0]) {
				t.Fatalf("verified payload or signer differ")
			}
			if _, err := Verify(media, signed, VerifyOptions{Roots: other.pool, Now: time.Now()}); err == nil {
				t.Error("verified against another anchor")
			}
			if _, err := Verify(media, signed, VerifyOptions{Roots: masa.pool, Now: time.Now().Add(2 * time.Hour)}); err == nil {
				t.Error("verified after the signer expired")
			}
			tampered := bytes.Replace(signed, []byte("SN-1"), []byte("SN-2"), 1)
			if media == MediaJWS {
				enc := base64.RawURLEncoding.EncodeToString(payload)
				tampered = bytes.Replace(signed, []byte(enc), []byte(base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte("SN-1"), []byte("SN-2"), 1))), 1)
			}
			if bytes.Equal(tampered, signed) {
				t.Fatal("the tamper changed nothing")
			}
			if _, err := Verify(media, tampered, VerifyOptions{Roots: masa.pool, Now: time.Now()}); err == nil {
				t.Error("a tampered voucher verified")
			}
		})
	}
}

// x509MarshalPKCS8 returns the PKCS#8 of a test PKI's leaf key.
func x509MarshalPKCS8(p pki) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(p.signer.Key) }
