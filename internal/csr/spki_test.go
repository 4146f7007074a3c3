package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
)

// TestSPKIMatchesX509 checks SPKI and PublicKeyBits against x509.MarshalPKIXPublicKey for
// keys of every kind, those with a fixed prefix and those without, and that a key either
// refuses is refused by both.
func TestSPKIMatchesX509(t *testing.T) {
	var keys []crypto.PublicKey
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		for range 20 {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, &k.PublicKey)
		}
	}
	for range 20 {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, pub)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	xk, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys = append(keys, &rk.PublicKey, xk.PublicKey())

	for i, pub := range keys {
		want, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatalf("key %d (%T): %v", i, pub, err)
		}
		got, err := SPKI(pub)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("key %d (%T): SPKI = %x, %v; MarshalPKIXPublicKey = %x", i, pub, got, err, want)
		}
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(want, &spki); err != nil {
			t.Fatal(err)
		}
		bits, err := PublicKeyBits(pub)
		if err != nil || !bytes.Equal(bits, spki.PublicKey.Bytes) || spki.PublicKey.BitLength != 8*len(bits) {
			t.Fatalf("key %d (%T): PublicKeyBits = %x, %v; the SPKI holds %x", i, pub, bits, err, spki.PublicKey.Bytes)
		}
	}

	// Keys MarshalPKIXPublicKey refuses: SPKI and PublicKeyBits refuse them too.
	offCurve := &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
	for _, pub := range []crypto.PublicKey{nil, offCurve, &ecdsa.PublicKey{}, ed25519.PublicKey{1, 2, 3}, struct{}{}} {
		if _, err := x509.MarshalPKIXPublicKey(pub); err == nil {
			if _, ok := pub.(ed25519.PublicKey); !ok {
				t.Fatalf("%T: MarshalPKIXPublicKey accepts it; pick another refused key", pub)
			}
		}
		wantDER, wantErr := x509.MarshalPKIXPublicKey(pub)
		got, err := SPKI(pub)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, wantDER) {
			t.Errorf("%T %v: SPKI = %x, %v; MarshalPKIXPublicKey = %x, %v", pub, pub, got, err, wantDER, wantErr)
		}
		if _, err := PublicKeyBits(pub); (err == nil) != (wantErr == nil) {
			t.Errorf("%T %v: PublicKeyBits error %v; MarshalPKIXPublicKey's %v", pub, pub, err, wantErr)
		}
	}
}

func BenchmarkSPKI(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("SPKI", func(b *testing.B) {
		for b.Loop() {
			if _, err := SPKI(&k.PublicKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalPKIXPublicKey", func(b *testing.B) {
		for b.Loop() {
			if _, err := x509.MarshalPKIXPublicKey(&k.PublicKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}
