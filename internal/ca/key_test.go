package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// TestTBSKeySHA256 checks the hash against crypto/x509's own parse of signed certificates of
// every key type Hallmark issues for, and refuses bytes that are not a TBSCertificate.
func TestTBSKeySHA256(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pub  any
	}{{"P-256", ec.Public()}, {"Ed25519", ed}, {"RSA", rk.Public()}} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "dev"},
				NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.pub, ec)
			if err != nil {
				t.Fatal(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TBSKeySHA256(c.RawTBSCertificate)
			want := sha256.Sum256(c.RawSubjectPublicKeyInfo)
			if err != nil || !bytes.Equal(got, want[:]) {
				t.Fatalf("TBSKeySHA256 = %x, %v; want %x", got, err, want)
			}
		})
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, {0x30, 0x03, 0x02, 0x01, 0x01}, {0x04, 0x00}} {
		if _, err := TBSKeySHA256(bad); err == nil {
			t.Errorf("TBSKeySHA256(%x) accepted it", bad)
		}
	}
}
