// Since Go 1.23 x509.ParseCertificate refuses negative serial numbers unless this setting
// restores the old behaviour. The tests turn it on so that a certificate with a negative serial
// reaches Verify, which must refuse it on its own (and so that limbo's rfc5280::serial::negative
// is refused by Verify, not only by the parser).
//
//go:debug x509negativeserial=1
package chainverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// node is a generated certificate and its key.
type node struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var serials int64 = 0x1000

// issue signs tmpl with parent (nil: self-signed), filling in what the test does not set.
func issue(t testing.TB, tmpl *x509.Certificate, parent *node, key crypto.Signer) *node {
	t.Helper()
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	if tmpl.SerialNumber == nil {
		serials++
		tmpl.SerialNumber = big.NewInt(serials)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = testNow.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = testNow.Add(365 * 24 * time.Hour)
	}
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &node{c, key}
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Acme Devices"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func deviceTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, SerialNumber: cn},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// factory is an IDevID-shaped hierarchy: manufacturing root → issuing CA.
type factory struct{ root, issuing *node }

func newFactory(t testing.TB) factory {
	root := issue(t, caTemplate("Acme Manufacturing Root"), nil, nil)
	it := caTemplate("Acme Line 3 Issuing CA")
	it.MaxPathLenZero = true
	return factory{root, issue(t, it, root, nil)}
}

// resign returns n's certificate with its serial replaced (whatever crypto/x509 would allow to
// be created), signed again by issuer.
func resign(t testing.TB, n *node, issuer *node, serial *big.Int) *x509.Certificate {
	t.Helper()
	var outer struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(n.cert.Raw, &outer); err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	for b := outer.TBS.Bytes; len(b) > 0; {
		var rv asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &rv); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, rv.FullBytes)
	}
	s, err := asn1.Marshal(serial)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = s // parts[0] is the [0] version
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: concat(parts)})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(tbs)
	sig, err := issuer.key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	outer.TBS = asn1.RawValue{FullBytes: tbs}
	outer.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	der, err := asn1.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func concat(parts [][]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// withoutSKI is a copy of n whose certificate claims no subject key identifier, so that
// crypto/x509 issues children without an authority key identifier.
func withoutSKI(n *node) *node {
	c := *n.cert
	c.SubjectKeyId = nil
	return &node{&c, n.key}
}

func withSKI(n *node, ski []byte) *node {
	c := *n.cert
	c.SubjectKeyId = ski
	return &node{&c, n.key}
}

func TestVerify(t *testing.T) {
	f := newFactory(t)
	other := newFactory(t)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tooLong := new(big.Int).Lsh(big.NewInt(1), 20*8) // 21 octets

	type tc struct {
		name          string
		leaf          *x509.Certificate
		anchors       []*x509.Certificate
		intermediates []*x509.Certificate
		usages        []x509.ExtKeyUsage
		plainAccepts  bool   // plain x509.Certificate.Verify with the same inputs
		wantErr       string // "" means Verify accepts
	}
	good := issue(t, deviceTemplate("ACME-0001"), f.issuing, nil)
	noEKU := deviceTemplate("ACME-0002")
	noEKU.ExtKeyUsage = nil
	caLeaf := caTemplate("ACME-0003")
	caLeaf.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	zero := deviceTemplate("ACME-0004")
	zero.SerialNumber = big.NewInt(0)
	long := deviceTemplate("ACME-0005")
	long.SerialNumber = tooLong
	expired := deviceTemplate("ACME-0006")
	expired.NotBefore, expired.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-24*time.Hour)
	serverOnly := deviceTemplate("ACME-0007")
	serverOnly.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	noDigSig := deviceTemplate("ACME-0008")
	noDigSig.KeyUsage = x509.KeyUsageKeyEncipherment

	anchors := []*x509.Certificate{f.root.cert}
	inters := []*x509.Certificate{f.issuing.cert}
	cases := []tc{
		{name: "good IDevID chain", leaf: good.cert, plainAccepts: true},
		{name: "leaf without EKU", leaf: issue(t, noEKU, f.issuing, nil).cert, plainAccepts: true},
		{name: "issuing CA registered as anchor", leaf: good.cert, anchors: []*x509.Certificate{f.issuing.cert}, intermediates: []*x509.Certificate{}, plainAccepts: true},
		{name: "CA certificate as leaf", leaf: issue(t, caLeaf, f.issuing, nil).cert, plainAccepts: true,
			wantErr: "a CA certificate presented as a device certificate"},
		{name: "serial zero", leaf: issue(t, zero, f.issuing, nil).cert, plainAccepts: true,
			wantErr: "serial number is zero or negative"},
		{name: "serial negative", leaf: resign(t, issue(t, deviceTemplate("ACME-0009"), f.issuing, nil), f.issuing, big.NewInt(-42)), plainAccepts: true,
			wantErr: "serial number is zero or negative"},
		{name: "serial of 21 octets", leaf: issue(t, long, f.issuing, nil).cert, plainAccepts: true,
			wantErr: "serial number is 21 octets long"},
		{name: "missing authority key identifier", leaf: issue(t, deviceTemplate("ACME-0010"), withoutSKI(f.issuing), nil).cert, plainAccepts: true,
			wantErr: "no authority key identifier"},
		{name: "authority key identifier mismatch", leaf: issue(t, deviceTemplate("ACME-0011"), withSKI(f.issuing, []byte{1, 2, 3, 4}), nil).cert, plainAccepts: true,
			wantErr: "does not match the subject key identifier"},
		{name: "keyUsage without digitalSignature", leaf: issue(t, noDigSig, f.issuing, nil).cert, plainAccepts: true,
			wantErr: "without digitalSignature"},
		{name: "RSA-1024 device key", leaf: issue(t, deviceTemplate("ACME-0012"), f.issuing, rsa1024).cert, plainAccepts: true,
			wantErr: "RSA key of 1024 bits"},
		{name: "expired", leaf: issue(t, expired, f.issuing, nil).cert,
			wantErr: "expired or not yet valid"},
		{name: "wrong EKU", leaf: issue(t, serverOnly, f.issuing, nil).cert,
			wantErr: "does not allow the required extended key usage"},
		{name: "unknown anchor", leaf: good.cert, anchors: []*x509.Certificate{other.root.cert},
			wantErr: "does not chain to a registered manufacturer anchor"},
		{name: "intermediate missing", leaf: good.cert, intermediates: []*x509.Certificate{},
			wantErr: "does not chain to a registered manufacturer anchor"},
		{name: "no anchors", leaf: good.cert, anchors: []*x509.Certificate{},
			wantErr: "no manufacturer anchors are registered"},
		{name: "odd anchors and intermediates ignored", leaf: good.cert, plainAccepts: true,
			anchors:       []*x509.Certificate{nil, {}, f.root.cert},
			intermediates: []*x509.Certificate{nil, {}, f.issuing.cert}},
		{name: "empty leaf", leaf: &x509.Certificate{}, wantErr: "no device certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Anchors: anchors, Intermediates: inters, Now: testNow, KeyUsages: c.usages}
			if c.anchors != nil {
				o.Anchors = c.anchors
			}
			if c.intermediates != nil {
				o.Intermediates = c.intermediates
			}
			if len(c.leaf.Raw) > 0 {
				if got := plainVerify(c.leaf, o) == nil; got != c.plainAccepts {
					t.Errorf("plain x509 Verify accepts = %v, want %v", got, c.plainAccepts)
				}
			}
			chain, err := Verify(c.leaf, o)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if chain[0] != c.leaf {
					t.Errorf("chain[0] is not the leaf")
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted; want refusal %q", c.wantErr)
			}
			if !failure.Is(err, failure.Invalid) {
				t.Errorf("kind = %v, want invalid", failure.KindOf(err))
			}
			if !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "factory chain: ") {
				t.Errorf("error = %q, want it to contain %q", err, c.wantErr)
			}
			if chain != nil {
				t.Errorf("chain returned with an error")
			}
		})
	}

	t.Run("nil leaf", func(t *testing.T) {
		if _, err := Verify(nil, Options{Anchors: anchors, Now: testNow}); !failure.Is(err, failure.Invalid) {
			t.Errorf("err = %v, want invalid", err)
		}
	})
	t.Run("chain order", func(t *testing.T) {
		chain, err := Verify(good.cert, Options{Anchors: anchors, Intermediates: inters, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if len(chain) != 3 || chain[1] != f.issuing.cert || chain[2] != f.root.cert {
			t.Errorf("chain = %v, want leaf, issuing, root", subjects(chain))
		}
	})
	t.Run("presented intermediates that are anchors", func(t *testing.T) {
		// What a device presents over EST when Hallmark registers both its CAs as anchors.
		o := Options{Anchors: []*x509.Certificate{f.root.cert, f.issuing.cert}, Intermediates: []*x509.Certificate{f.issuing.cert, f.root.cert}, Now: testNow}
		if err := plainVerify(good.cert, o); err != nil {
			t.Fatalf("plain x509 Verify: %v", err)
		}
		chain, err := Verify(good.cert, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(chain) != 2 || chain[1] != f.issuing.cert {
			t.Errorf("chain = %v, want leaf, issuing", subjects(chain))
		}
		for name, leaf := range map[string]*x509.Certificate{
			"serial zero": issue(t, zero, f.issuing, nil).cert,
			"expired":     issue(t, expired, f.issuing, nil).cert,
			"wrong EKU":   issue(t, serverOnly, f.issuing, nil).cert,
			"other maker": issue(t, deviceTemplate("ACME-0013"), other.issuing, nil).cert,
		} {
			if _, err := Verify(leaf, o); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
	t.Run("message names the certificate", func(t *testing.T) {
		_, err := Verify(issue(t, zero, f.issuing, nil).cert, Options{Anchors: anchors, Intermediates: inters, Now: testNow})
		want := "factory chain: certificate SERIALNUMBER=ACME-0004,CN=ACME-0004 serial 0: "
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %v, want prefix %q", err, want)
		}
	})
}

// plainVerify is what crypto/x509 alone decides for the same inputs.
func plainVerify(leaf *x509.Certificate, o Options) error {
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range o.Anchors {
		if c != nil && len(c.Raw) > 0 {
			roots.AddCert(c)
		}
	}
	for _, c := range o.Intermediates {
		if c != nil && len(c.Raw) > 0 {
			inters.AddCert(c)
		}
	}
	usages := o.KeyUsages
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: o.Now, KeyUsages: usages})
	return err
}

func subjects(chain []*x509.Certificate) []string {
	var s []string
	for _, c := range chain {
		s = append(s, c.Subject.CommonName)
	}
	return s
}

func BenchmarkVerify(b *testing.B) {
	f := newFactory(b)
	leaf := issue(b, deviceTemplate("ACME-BENCH"), f.issuing, nil)
	o := Options{Anchors: []*x509.Certificate{f.root.cert}, Intermediates: []*x509.Certificate{f.issuing.cert}, Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(leaf.cert, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAnchorsPresented is the EST case: the device presents its issuing CA and
// root, and both are registered anchors.
func BenchmarkVerifyAnchorsPresented(b *testing.B) {
	f := newFactory(b)
	leaf := issue(b, deviceTemplate("ACME-BENCH"), f.issuing, nil)
	o := Options{Anchors: []*x509.Certificate{f.root.cert, f.issuing.cert}, Intermediates: []*x509.Certificate{f.issuing.cert, f.root.cert}, Now: testNow}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(leaf.cert, o); err != nil {
			b.Fatal(err)
		}
	}
}
