package issuance

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/oid"
)

func TestProfilesLintCleanAndVerify(t *testing.T) {
	for _, kind := range keyTypes {
		t.Run(kind, func(t *testing.T) {
			h := newHierarchy(t, kind)
			for p, c := range h.leaves(t, kind) {
				t.Run(string(p), func(t *testing.T) { h.verify(t, c) })
			}
		})
	}
}

func TestLeafContents(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	leaves := h.leaves(t, "ecdsa-p256")

	f := leaves[ProfileFactory]
	hw, serial, err := ParseHardwareModuleName(f)
	if err != nil || !hw.Equal(testHWType) || string(serial) != "SN-0001" {
		t.Errorf("hardwareModuleName = %v %q %v", hw, serial, err)
	}
	if d, err := BuildRecordDigestOf(f); err != nil || d != sha256.Sum256([]byte("build record")) {
		t.Errorf("build record digest = %x %v", d, err)
	}
	if f.Subject.SerialNumber != "SN-0001" || f.Subject.Organization[0] != "Test Maker" || f.IsCA {
		t.Errorf("factory subject %v, IsCA %t", f.Subject, f.IsCA)
	}
	if len(f.ExtKeyUsage) != 1 || f.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || f.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("factory usages %v %v", f.KeyUsage, f.ExtKeyUsage)
	}
	if _, _, err := ParseHardwareModuleName(leaves[ProfileTLSServer]); !failure.Is(err, failure.Invalid) {
		t.Errorf("hardwareModuleName of a TLS certificate: %v", err)
	}

	o := leaves[ProfileOperational]
	ref, ok, err := FactoryRefOf(o)
	if err != nil || !ok || !ref.Matches(f) {
		t.Errorf("FactoryRefOf = %+v %t %v", ref, ok, err)
	}
	if _, ok, err := FactoryRefOf(f); ok || err != nil {
		t.Errorf("FactoryRefOf(factory) = %t %v, want absent", ok, err)
	}
	if len(o.URIs) != 1 || o.URIs[0].String() != "spiffe://plant.example/env/line-1/device/dev-42" {
		t.Errorf("URIs = %v", o.URIs)
	}
	if o.OCSPServer[0] != "http://hallmark.example/ocsp" || o.CRLDistributionPoints[0] != "http://hallmark.example/crl/1.crl" {
		t.Errorf("operational AIA %v CDP %v", o.OCSPServer, o.CRLDistributionPoints)
	}

	r := leaves[ProfileOCSPResponder]
	if len(r.ExtKeyUsage) != 1 || r.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning {
		t.Errorf("OCSP EKU %v", r.ExtKeyUsage)
	}
	if _, ok := extension(r, idPKIXOCSPNoCheck); !ok {
		t.Error("OCSP responder lacks id-pkix-ocsp-nocheck")
	}

	for _, c := range []*x509.Certificate{h.root, h.issuing} {
		want, _ := SubjectKeyID(c.PublicKey)
		if !bytes.Equal(c.SubjectKeyId, want) || !c.IsCA {
			t.Errorf("%s: SKID %x, want %x (RFC 7093)", c.Subject, c.SubjectKeyId, want)
		}
	}
	if h.issuing.MaxPathLen != 0 || !h.issuing.MaxPathLenZero || h.root.MaxPathLen != -1 {
		t.Errorf("path lengths root %d issuing %d/%t", h.root.MaxPathLen, h.issuing.MaxPathLen, h.issuing.MaxPathLenZero)
	}
	if !bytes.Equal(h.issuing.AuthorityKeyId, h.root.SubjectKeyId) || !bytes.Equal(f.AuthorityKeyId, h.issuing.SubjectKeyId) {
		t.Error("authority key identifiers do not chain")
	}
}

// TestRefusals: bad templates fail with failure.Invalid, and Prepare returns no Prepared.
func TestRefusals(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	edHier := newHierarchy(t, "ed25519")
	pub := newKey(t, "ecdsa-p256").Public()
	weak := newKey(t, "rsa-1024").Public()

	tmplErr := func(_ *x509.Certificate, err error) error { return err }
	prepErr := func(is *Issuer, profile Profile, tmpl *x509.Certificate, err error) error {
		if err != nil {
			return err
		}
		p, err := is.Prepare(profile, tmpl, rand.Reader)
		if p != nil {
			t.Errorf("Prepare returned a Prepared with error %v", err)
		}
		return err
	}
	tests := []struct {
		name string
		err  func() error
	}{
		{"factory empty serial", func() error {
			p := factoryParams(pub)
			p.DeviceSerial = ""
			return tmplErr(FactoryTemplate(p))
		}},
		{"factory serial not printable", func() error {
			p := factoryParams(pub)
			p.DeviceSerial = "SN_01*"
			return tmplErr(FactoryTemplate(p))
		}},
		{"factory no digest", func() error {
			p := factoryParams(pub)
			p.BuildRecordDigest = [32]byte{}
			return tmplErr(FactoryTemplate(p))
		}},
		{"factory weak key", func() error { return tmplErr(FactoryTemplate(factoryParams(weak))) }},
		{"CA notAfter before notBefore", func() error {
			return tmplErr(CATemplate(CAParams{Profile: ProfileIssuingCA, CommonName: "x", PublicKey: pub, NotBefore: now, NotAfter: now.Add(-time.Hour)}))
		}},
		{"CA leaf profile", func() error {
			return tmplErr(CATemplate(CAParams{Profile: ProfileFactory, CommonName: "x", PublicKey: pub, NotBefore: now, NotAfter: now.Add(time.Hour)}))
		}},
		{"operational path mismatch", func() error {
			p := operationalParams(pub, h.issuing)
			p.SPIFFEID = &url.URL{Scheme: "spiffe", Host: "td", Path: "/env/a/device/other"}
			return tmplErr(OperationalTemplate(p))
		}},
		{"operational bad OCSP URL", func() error {
			p := operationalParams(pub, h.issuing)
			p.OCSPServer = []string{"ldap://x"}
			return tmplErr(OperationalTemplate(p))
		}},
		{"support path not /support/<party>/<engineer>", func() error {
			p := supportParams(pub)
			p.SPIFFEID = &url.URL{Scheme: "spiffe", Host: "td", Path: "/env/a/device/b"}
			return tmplErr(SupportTemplate(p))
		}},
		{"support scope with both lot and devices", func() error {
			p := supportParams(pub)
			p.Scope.LotID = "lot-1"
			return tmplErr(SupportTemplate(p))
		}},
		{"support scope with neither lot nor devices", func() error {
			p := supportParams(pub)
			p.Scope.Devices = nil
			return tmplErr(SupportTemplate(p))
		}},
		{"tls no names", func() error {
			return tmplErr(TLSServerTemplate(TLSServerParams{PublicKey: pub, NotBefore: now, NotAfter: now.Add(time.Hour)}))
		}},
		{"tls wildcard", func() error {
			p := tlsParams(pub)
			p.DNSNames = []string{"*.example.com"}
			return tmplErr(TLSServerTemplate(p))
		}},
		{"zlint: tls-server with an Ed25519 CA", func() error {
			tm, err := TLSServerTemplate(tlsParams(newKey(t, "ecdsa-p256").Public()))
			return prepErr(edHier.issuer, ProfileTLSServer, tm, err)
		}},
		{"zlint: tls-server over 825 days", func() error {
			p := tlsParams(pub)
			p.NotAfter = now.AddDate(3, 0, 0)
			tm, err := TLSServerTemplate(p)
			return prepErr(h.issuer, ProfileTLSServer, tm, err)
		}},
		{"zlint: CA without keyCertSign", func() error {
			tm, err := CATemplate(CAParams{Profile: ProfileIssuingCA, CommonName: "x", PublicKey: pub, NotBefore: now, NotAfter: now.Add(time.Hour)})
			if err == nil {
				tm.KeyUsage = x509.KeyUsageDigitalSignature
			}
			return prepErr(h.rootIssuer, ProfileIssuingCA, tm, err)
		}},
		{"leaf template under CA profile", func() error {
			tm, err := FactoryTemplate(factoryParams(pub))
			return prepErr(h.issuer, ProfileIssuingCA, tm, err)
		}},
		{"root via Prepare", func() error {
			tm, err := CATemplate(CAParams{Profile: ProfileRootCA, CommonName: "x", PublicKey: pub, NotBefore: now, NotAfter: now.Add(time.Hour)})
			return prepErr(h.issuer, ProfileRootCA, tm, err)
		}},
		{"notAfter beyond the issuer", func() error {
			p := factoryParams(pub)
			p.NotAfter = h.issuing.NotAfter.Add(time.Hour)
			tm, err := FactoryTemplate(p)
			return prepErr(h.issuer, ProfileFactory, tm, err)
		}},
		{"unknown profile", func() error {
			tm, err := FactoryTemplate(factoryParams(pub))
			return prepErr(h.issuer, Profile("bogus"), tm, err)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if !failure.Is(err, failure.Invalid) {
				t.Fatalf("err = %v, want kind invalid", err)
			}
			t.Log(err)
		})
	}
}

func TestOneShot(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	other := newHierarchy(t, "ecdsa-p256")
	tm, err := FactoryTemplate(factoryParams(newKey(t, "ecdsa-p256").Public()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.issuer.Prepare(ProfileFactory, tm, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.issuer.Sign(p); !errors.Is(err, ErrWrongIssuer) {
		t.Errorf("another issuer signed: %v", err)
	}
	if _, err := SignSelfSigned(p, h.issuingKey); !errors.Is(err, ErrWrongIssuer) {
		t.Errorf("SignSelfSigned took an issued Prepared: %v", err)
	}
	c, err := h.issuer.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.issuer.Sign(p); !errors.Is(err, ErrPreparedUsed) {
		t.Errorf("second Sign: %v", err)
	}
	if c.SerialNumber.Cmp(p.Serial()) != 0 || p.Profile() != ProfileFactory || !c.NotAfter.Equal(p.NotAfter()) || !c.NotBefore.Equal(p.NotBefore()) {
		t.Error("Prepared accessors disagree with the certificate")
	}
	if tm.SerialNumber != nil {
		t.Error("Prepare modified the caller's template")
	}

	// Concurrent Sign calls on one Prepared: exactly one wins.
	p, err = h.issuer.Prepare(ProfileFactory, tm, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if _, err := h.issuer.Sign(p); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent Sign calls succeeded, want 1", wins)
	}

	// Self-signed: another key cannot sign, and it is one-shot too.
	rt, err := CATemplate(CAParams{Profile: ProfileRootCA, CommonName: "R", PublicKey: h.rootKey.Public(), NotBefore: now, NotAfter: now.AddDate(1, 0, 0), MaxPathLen: 1})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := PrepareSelfSigned(ProfileRootCA, rt, h.rootKey, linter(t), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.issuer.Sign(rp); !errors.Is(err, ErrWrongIssuer) {
		t.Errorf("an issuer signed a self-signed Prepared: %v", err)
	}
	if _, err := SignSelfSigned(rp, h.issuingKey); !errors.Is(err, ErrWrongIssuer) {
		t.Errorf("another key signed a root: %v", err)
	}
	if _, err := SignSelfSigned(rp, h.rootKey); err != nil {
		t.Fatal(err)
	}
	if _, err := SignSelfSigned(rp, h.rootKey); !errors.Is(err, ErrPreparedUsed) {
		t.Errorf("second SignSelfSigned: %v", err)
	}
}

// TestTBSEquality: the signed certificate's TBS is the linted TBS, for every CA key type.
func TestTBSEquality(t *testing.T) {
	for _, kind := range keyTypes {
		t.Run(kind, func(t *testing.T) {
			h := newHierarchy(t, kind)
			tm, err := FactoryTemplate(factoryParams(newKey(t, kind).Public()))
			if err != nil {
				t.Fatal(err)
			}
			p, err := h.issuer.Prepare(ProfileFactory, tm, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tbs := p.TBS()
			tbs[len(tbs)-1] ^= 0xff // a copy: mutating it must not change what is signed
			c, err := h.issuer.Sign(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.RawTBSCertificate, p.TBS()) {
				t.Fatal("signed TBS differs from the prepared TBS")
			}
			if err := c.CheckSignatureFrom(h.issuing); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNewIssuerRefuses(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	l := linter(t)
	leaf := h.leaves(t, "ecdsa-p256")[ProfileFactory]
	p521 := newKey(t, "ecdsa-p521")
	p521Cert := *h.issuing
	p521Cert.PublicKey = p521.Public()
	noSKID := *h.issuing
	noSKID.SubjectKeyId = nil
	tests := []struct {
		name string
		cert *x509.Certificate
		key  crypto.Signer
	}{
		{"key mismatch", h.issuing, h.rootKey},
		{"not a CA", leaf, h.issuingKey},
		{"P-521 CA key", &p521Cert, p521},
		{"no SKID", &noSKID, h.issuingKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is, err := NewIssuer(tc.cert, tc.key, l)
			if is != nil || !failure.Is(err, failure.Invalid) {
				t.Fatalf("NewIssuer = %v, %v; want kind invalid", is, err)
			}
		})
	}
}

func TestNewSerial(t *testing.T) {
	const n = 10000
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	seen := make(map[string]bool, n)
	var prev *big.Int
	for i := range n {
		nb := at.Add(time.Duration(i/100) * time.Second) // 100 serials a second
		s, err := NewSerial(nb, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if s.BitLen() != 127 {
			t.Fatalf("serial %x is %d bits long, want 127", s, s.BitLen())
		}
		if got := new(big.Int).Rsh(s, 88).Int64(); got != 1<<38|nb.Unix() {
			t.Fatalf("serial %x leads with %x, want the 2nd bit and %d seconds", s, got, nb.Unix())
		}
		if prev != nil && i%100 == 0 && s.Cmp(prev) <= 0 {
			t.Fatalf("serial %x of a later second is not above %x", s, prev)
		}
		if len(s.Text(16)) != 32 {
			t.Fatalf("serial %x: hex text of %d characters, want 32", s, len(s.Text(16)))
		}
		prev = s
		k := s.String()
		if seen[k] {
			t.Fatalf("serial %x repeated", s)
		}
		seen[k] = true
	}
	// The random part is the source's: 11 octets taken as they come.
	r := bytes.NewReader(append(make([]byte, 0, 11), []byte("hallmark-88")...))
	s, err := NewSerial(at, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Bytes()[5:]; string(got) != "hallmark-88" {
		t.Errorf("random part %q, want the source's %q", got, "hallmark-88")
	}
	if _, err := NewSerial(at, bytes.NewReader(make([]byte, 1000))); err == nil {
		t.Error("NewSerial accepted a source of zeros")
	}
	if _, err := NewSerial(at, bytes.NewReader([]byte{1, 2})); err == nil {
		t.Error("NewSerial accepted a short read")
	}
}

// TestConcurrentIssuance runs the cycle from many goroutines on one Issuer (run with -race).
func TestConcurrentIssuance(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p384")
	pub := newKey(t, "ecdsa-p256").Public()
	var wg sync.WaitGroup
	serials := make(chan string, 32)
	for range 32 {
		wg.Go(func() {
			tm, err := FactoryTemplate(factoryParams(pub))
			if err != nil {
				t.Error(err)
				return
			}
			p, err := h.issuer.Prepare(ProfileFactory, tm, rand.Reader)
			if err != nil {
				t.Error(err)
				return
			}
			c, err := h.issuer.Sign(p)
			if err != nil {
				t.Error(err)
				return
			}
			serials <- c.SerialNumber.String()
		})
	}
	wg.Wait()
	close(serials)
	seen := map[string]bool{}
	for s := range serials {
		if seen[s] {
			t.Errorf("serial %s repeated", s)
		}
		seen[s] = true
	}
}

func TestFactoryRefRoundTrip(t *testing.T) {
	h := newHierarchy(t, "ed25519")
	f := h.leaves(t, "ed25519")[ProfileFactory]
	ref := NewFactoryRef(f)
	der, err := ref.marshal()
	if err != nil {
		t.Fatal(err)
	}
	c := &x509.Certificate{Extensions: []pkix.Extension{{Id: oid.FactoryIdentityRef, Value: der}}}
	got, ok, err := FactoryRefOf(c)
	if err != nil || !ok || !got.Matches(f) {
		t.Fatalf("round trip: %+v %t %v", got, ok, err)
	}
	c.Extensions[0].Value = der[:len(der)-1]
	if _, _, err := FactoryRefOf(c); !failure.Is(err, failure.Invalid) {
		t.Errorf("truncated reference: %v", err)
	}
	if _, err := (FactoryRef{RawIssuer: []byte("junk"), Serial: big.NewInt(1)}).marshal(); !failure.Is(err, failure.Invalid) {
		t.Errorf("junk issuer: %v", err)
	}
}

func TestSupportScopeRoundTrip(t *testing.T) {
	h := newHierarchy(t, "ecdsa-p256")
	for _, scope := range []SupportScope{
		{GrantID: "g-1", EnvironmentID: "env-1", Devices: []string{"dev-1", "dev-2"}},
		{GrantID: "g-2", EnvironmentID: "env-1", LotID: "lot-7"},
	} {
		p := supportParams(newKey(t, "ecdsa-p256").Public())
		p.Scope = scope
		tm, err := SupportTemplate(p)
		if err != nil {
			t.Fatal(err)
		}
		c := h.issue(t, ProfileSupport, tm)
		got, err := SupportScopeOf(c)
		if err != nil {
			t.Fatal(err)
		}
		if got.GrantID != scope.GrantID || got.EnvironmentID != scope.EnvironmentID || got.LotID != scope.LotID || strings.Join(got.Devices, ",") != strings.Join(scope.Devices, ",") {
			t.Fatalf("scope = %+v, want %+v", got, scope)
		}
		if !c.NotAfter.Equal(p.NotAfter.Truncate(time.Second)) {
			t.Fatalf("notAfter = %s, want the window's end %s", c.NotAfter, p.NotAfter)
		}
	}
	f := h.leaves(t, "ecdsa-p256")[ProfileFactory]
	if _, err := SupportScopeOf(f); err == nil {
		t.Fatal("a factory certificate has no support scope, but SupportScopeOf found one")
	}
}
