package custodyvoucher_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
	"github.com/hallmark-id/hallmark/internal/custodyvoucher"
	"github.com/hallmark-id/hallmark/internal/oid"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// maker is a maker's PKI made with crypto/x509: a root, an issuing CA, a build-record key.
type maker struct {
	root, ca    *x509.Certificate
	caKey       *ecdsa.PrivateKey
	recordKey   *ecdsa.PrivateKey
	serialCount int64
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newMaker(t testing.TB) *maker {
	rootKey, caKey := newKey(t), newKey(t)
	ca := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"maker"}},
			NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(20 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	rootT := ca("maker root", 1)
	root := mustCert(t, rootT, rootT, &rootKey.PublicKey, rootKey)
	ic := mustCert(t, ca("maker issuing", 2), root, &caKey.PublicKey, rootKey)
	return &maker{root: root, ca: ic, caKey: caKey, recordKey: newKey(t), serialCount: 100}
}

func (m *maker) trust() custodyvoucher.Trust {
	return custodyvoucher.Trust{Anchors: []*x509.Certificate{m.root}, BuildRecordKeys: []crypto.PublicKey{&m.recordKey.PublicKey}}
}

// device makes a device: its key, a signed build record and a factory certificate naming it.
func (m *maker) device(t testing.TB, serial string) custodyvoucher.Device {
	devKey := newKey(t)
	rec := &buildrecord.Record{Manufacturer: "maker", Model: "m1", Serial: serial, Lot: "lot-1", Components: []buildrecord.Component{},
		FirmwareDigest: buildrecord.Digest{SHA256: strings.Repeat("ab", 32)}, TestResult: buildrecord.TestPass, BuiltAt: t0.Add(-time.Minute)}
	env, digest, err := buildrecord.Sign(context.Background(), rec, &devKey.PublicKey, m.recordKey)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := asn1.Marshal(digest[:])
	if err != nil {
		t.Fatal(err)
	}
	m.serialCount++
	leaf := mustCert(t, &x509.Certificate{SerialNumber: big.NewInt(m.serialCount), Subject: pkix.Name{SerialNumber: serial, Organization: []string{"maker"}},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(10 * 365 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, ExtraExtensions: []pkix.Extension{{Id: oid.BuildRecordDigest, Value: ext}}},
		m.ca, &devKey.PublicKey, m.caKey)
	return custodyvoucher.Device{Serial: serial, BuildRecord: env,
		FactoryChain: []string{base64.StdEncoding.EncodeToString(leaf.Raw), base64.StdEncoding.EncodeToString(m.ca.Raw)}}
}
