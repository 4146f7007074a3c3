package issuance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// now is the fixed time every test issues at.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	testLinterOnce sync.Once
	testLinter     *Linter
	testLinterErr  error
)

func linter(t testing.TB) *Linter {
	t.Helper()
	testLinterOnce.Do(func() { testLinter, testLinterErr = NewLinter() })
	if testLinterErr != nil {
		t.Fatal(testLinterErr)
	}
	return testLinter
}

var keyTypes = []string{"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"}

func newKey(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch kind {
	case "ecdsa-p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ecdsa-p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "rsa-2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa-1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	default:
		t.Fatalf("unknown key type %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hierarchy is a root and an issuing CA with their keys.
type hierarchy struct {
	root, issuing       *x509.Certificate
	rootKey, issuingKey crypto.Signer
	rootIssuer, issuer  *Issuer
}

func newHierarchy(t testing.TB, kind string) *hierarchy {
	t.Helper()
	l := linter(t)
	h := &hierarchy{rootKey: newKey(t, kind), issuingKey: newKey(t, kind)}
	tmpl, err := CATemplate(CAParams{Profile: ProfileRootCA, CommonName: "Test Root CA", Organization: "Test Maker",
		PublicKey: h.rootKey.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0), MaxPathLen: -1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := PrepareSelfSigned(ProfileRootCA, tmpl, h.rootKey, l, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if h.root, err = SignSelfSigned(p, h.rootKey); err != nil {
		t.Fatal(err)
	}
	if h.rootIssuer, err = NewIssuer(h.root, h.rootKey, l); err != nil {
		t.Fatal(err)
	}
	tmpl, err = CATemplate(CAParams{Profile: ProfileIssuingCA, CommonName: "Test Issuing CA", Organization: "Test Maker",
		PublicKey: h.issuingKey.Public(), NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	p, err = h.rootIssuer.Prepare(ProfileIssuingCA, tmpl, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if h.issuing, err = h.rootIssuer.Sign(p); err != nil {
		t.Fatal(err)
	}
	if h.issuer, err = NewIssuer(h.issuing, h.issuingKey, l); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *hierarchy) verify(t testing.TB, leaf *x509.Certificate) {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(h.root)
	inter.AddCert(h.issuing)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("verify %s: %v", leaf.Subject, err)
	}
}

func (h *hierarchy) issue(t testing.TB, profile Profile, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	p, err := h.issuer.Prepare(profile, tmpl, rand.Reader)
	if err != nil {
		t.Fatalf("prepare %s: %v", profile, err)
	}
	for _, w := range p.Warnings() {
		t.Logf("%s warning: %s", profile, w)
	}
	c, err := h.issuer.Sign(p)
	if err != nil {
		t.Fatalf("sign %s: %v", profile, err)
	}
	return c
}

var testHWType = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 7601, 2, 1}

func factoryParams(pub crypto.PublicKey) FactoryParams {
	return FactoryParams{DeviceSerial: "SN-0001", Organization: "Test Maker", HardwareType: testHWType,
		BuildRecordDigest: sha256.Sum256([]byte("build record")), PublicKey: pub,
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(10, 0, 0)}
}

func operationalParams(pub crypto.PublicKey, factory *x509.Certificate) OperationalParams {
	return OperationalParams{SPIFFEID: &url.URL{Scheme: "spiffe", Host: "plant.example", Path: "/env/line-1/device/dev-42"}, DeviceID: "dev-42",
		FactoryRef: NewFactoryRef(factory), PublicKey: pub, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
		OCSPServer: []string{"http://hallmark.example/ocsp"}, CRLDistributionPoints: []string{"http://hallmark.example/crl/1.crl"}}
}

func tlsParams(pub crypto.PublicKey) TLSServerParams {
	return TLSServerParams{DNSNames: []string{"localhost", "hallmark.internal.example"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		PublicKey: pub, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(90 * 24 * time.Hour)}
}

func ocspParams(pub crypto.PublicKey) OCSPResponderParams {
	return OCSPResponderParams{CommonName: "Test OCSP Responder", Organization: "Test Maker", PublicKey: pub, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(7 * 24 * time.Hour)}
}

// leaves issues one certificate of each leaf profile under h.
func (h *hierarchy) leaves(t testing.TB, kind string) map[Profile]*x509.Certificate {
	t.Helper()
	out := map[Profile]*x509.Certificate{}
	ft, err := FactoryTemplate(factoryParams(newKey(t, kind).Public()))
	if err != nil {
		t.Fatal(err)
	}
	out[ProfileFactory] = h.issue(t, ProfileFactory, ft)
	ot, err := OperationalTemplate(operationalParams(newKey(t, kind).Public(), out[ProfileFactory]))
	if err != nil {
		t.Fatal(err)
	}
	out[ProfileOperational] = h.issue(t, ProfileOperational, ot)
	if kind != "ed25519" { // the BR lints refuse Ed25519 for tls-server; see TestRefusals
		tt, err := TLSServerTemplate(tlsParams(newKey(t, kind).Public()))
		if err != nil {
			t.Fatal(err)
		}
		out[ProfileTLSServer] = h.issue(t, ProfileTLSServer, tt)
	}
	rt, err := OCSPResponderTemplate(ocspParams(newKey(t, kind).Public()))
	if err != nil {
		t.Fatal(err)
	}
	out[ProfileOCSPResponder] = h.issue(t, ProfileOCSPResponder, rt)
	st, err := SupportTemplate(supportParams(newKey(t, kind).Public()))
	if err != nil {
		t.Fatal(err)
	}
	out[ProfileSupport] = h.issue(t, ProfileSupport, st)
	return out
}

func supportParams(pub crypto.PublicKey) SupportParams {
	return SupportParams{SPIFFEID: &url.URL{Scheme: "spiffe", Host: "plant.example", Path: "/support/vendor-1/eve"}, Engineer: "eve", Organization: "Vendor One",
		Scope:     SupportScope{GrantID: "grant-1", EnvironmentID: "line-1", Devices: []string{"dev-42", "dev-43"}},
		PublicKey: pub, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(4 * time.Hour),
		OCSPServer: []string{"http://hallmark.example/ocsp"}, CRLDistributionPoints: []string{"http://hallmark.example/crl/1.crl"}}
}
