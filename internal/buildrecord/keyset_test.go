package buildrecord

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// TestVerifyKeys: a record verifies with any key set that holds the key that signed it, old
// or new, and names that key; with a set that lacks it, it does not.
func TestVerifyKeys(t *testing.T) {
	keys := signingKeys(t)
	old, next, other := keys["ecdsa-p256"], keys["ed25519"], keys["ecdsa-p384"]
	dev := deviceKey(t).Public()
	before, _ := mustSign(t, validRecord(), dev, old)
	after, _ := mustSign(t, validRecord(), dev, next)
	history := []crypto.PublicKey{next.Public(), old.Public()}
	for _, tc := range []struct {
		name  string
		keys  []crypto.PublicKey
		after bool // signed with the new key
		ok    bool
	}{
		{"signed before the rotation, key history", history, false, true},
		{"signed after the rotation, key history", history, true, true},
		{"signed before the rotation, new key only", []crypto.PublicKey{next.Public()}, false, false},
		{"duplicates count once", []crypto.PublicKey{old.Public(), old.Public()}, false, true},
		{"another key", []crypto.PublicKey{other.Public()}, false, false},
		{"no key", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, signer := before, old
			if tc.after {
				env, signer = after, next
			}
			v, err := VerifyKeys(env, tc.keys)
			if !tc.ok {
				if err == nil || failure.KindOf(err) != failure.Invalid {
					t.Fatalf("VerifyKeys = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, _ := KeyID(signer.Public())
			if v.KeyID != want {
				t.Errorf("verified by key %s, want %s", v.KeyID, want)
			}
		})
	}
	many := make([]crypto.PublicKey, MaxKeys+1)
	for i := range many {
		many[i] = old.Public()
	}
	if _, err := VerifyKeys(before, many); failure.KindOf(err) != failure.Invalid {
		t.Errorf("VerifyKeys with %d keys = %v, want invalid", len(many), err)
	}
}

// TestParsePublicKeysPEM reads key sets of one and several keys and refuses anything else.
func TestParsePublicKeysPEM(t *testing.T) {
	keys := signingKeys(t)
	var set []byte
	for _, name := range []string{"ed25519", "ecdsa-p256", "ecdsa-p384"} {
		b, err := MarshalPublicKeyPEM(keys[name].Public())
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, b...)
	}
	got, err := ParsePublicKeysPEM(set)
	if err != nil || len(got) != 3 {
		t.Fatalf("ParsePublicKeysPEM(3 keys) = %d, %v", len(got), err)
	}
	one, _ := MarshalPublicKeyPEM(keys["ecdsa-p256"].Public())
	if got, err := ParsePublicKeysPEM(one); err != nil || len(got) != 1 {
		t.Fatalf("ParsePublicKeysPEM(1 key) = %d, %v", len(got), err)
	}
	b256, _ := MarshalPublicKeyPEM(fixedECDSA(t, elliptic.P256(), "x").Public())
	for _, bad := range []struct {
		name string
		data []byte
		kind failure.Kind
	}{
		{"empty", nil, failure.Invalid},
		{"whitespace", []byte(" \n"), failure.Invalid},
		{"text after the keys", append(bytes.Clone(set), "trailing"...), failure.Invalid},
		{"a certificate among them", append(bytes.Clone(one), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"...), failure.Invalid},
		{"too many keys", bytes.Repeat(b256, MaxKeys+1), failure.Invalid},
		{"too large", []byte(strings.Repeat(" ", MaxKeySetSize+1)), failure.TooLarge},
	} {
		if _, err := ParsePublicKeysPEM(bad.data); failure.KindOf(err) != bad.kind {
			t.Errorf("ParsePublicKeysPEM(%s) = %v, want %s", bad.name, err, bad.kind)
		}
	}
}

// FuzzParsePublicKeysPEM checks that key sets never panic, that every error is classified,
// and that an accepted set holds 1 to MaxKeys keys each of which ParsePublicKeyPEM accepts
// on its own.
func FuzzParsePublicKeysPEM(f *testing.F) {
	var set []byte
	for _, name := range []string{"manufacturer-ecdsa-p256.pub", "manufacturer-ecdsa-p384.pub", "manufacturer-ed25519.pub"} {
		b := mustRead(f, name)
		f.Add(b)
		set = append(set, b...)
	}
	f.Add(set)
	f.Add(mustRead(f, "device.pub"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParsePublicKeysPEM(data)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if len(keys) == 0 || len(keys) > MaxKeys {
			t.Fatalf("accepted %d keys", len(keys))
		}
		for _, k := range keys {
			b, err := MarshalPublicKeyPEM(k)
			if err != nil {
				t.Fatalf("an accepted key does not encode: %v", err)
			}
			if _, err := ParsePublicKeyPEM(b); err != nil {
				t.Fatalf("an accepted key does not parse alone: %v", err)
			}
		}
	})
}
