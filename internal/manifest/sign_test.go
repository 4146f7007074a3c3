package manifest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// TestSignDSSE: what SignDSSE writes, VerifyDSSE reads back with the signer's key, for every
// key type it takes; another key, or a changed payload, does not verify.
func TestSignDSSE(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256([]byte("device key"))
	entries := []Entry{{Serial: "SN-1", SPKI: spki, HasSPKI: true}, {Serial: "SN-2"}}
	at := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	for name, signer := range map[string]crypto.Signer{"ecdsa-p256": p256, "ecdsa-p384": p384, "ed25519": ed, "rsa": rsaKey} {
		t.Run(name, func(t *testing.T) {
			env, err := SignDSSE("acme", at, entries, signer, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			key, err := NewKey(signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			set, err := VerifyDSSE(env, []Key{key}, "acme", Limits{})
			if err != nil {
				t.Fatalf("VerifyDSSE of what SignDSSE wrote: %v", err)
			}
			if set.Len() != 2 || !set.IssuedAt.Equal(at) || set.Maker != "acme" || set.Check("SN-1", spki) != nil || set.Check("SN-2", sha256.Sum256(nil)) != nil {
				t.Errorf("set = %d entries, maker %q, issued %v", set.Len(), set.Maker, set.IssuedAt)
			}
			other, _ := NewKey(p256.Public())
			if name == "ecdsa-p256" {
				other, _ = NewKey(p384.Public())
			}
			if _, err := VerifyDSSE(env, []Key{other}, "", Limits{}); !failure.Is(err, failure.Invalid) {
				t.Errorf("verified with another key: %v", err)
			}
		})
	}
	if _, err := SignDSSE("acme", at, []Entry{{}}, p256, rand.Reader); !failure.Is(err, failure.Invalid) {
		t.Errorf("an empty entry: %v, want invalid", err)
	}
}
