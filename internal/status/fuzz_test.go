package status

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRequest feeds the OCSP request parser requests made by `openssl ocsp -reqout`
// (testdata: with and without nonce, SHA-256 CertID, two certificates, a signed request) and
// their mutations. The parser must never panic, and what it accepts must be self-consistent.
func FuzzParseRequest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/req-*.der")
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := ParseRequest(der)
		if err != nil {
			return
		}
		if r.Serial.Sign() <= 0 || len(r.NameHash) != r.Hash.Size() || len(r.KeyHash) != r.Hash.Size() || len(r.Nonce) > maxNonce {
			t.Fatalf("accepted an inconsistent request: %+v", r)
		}
		if !bytes.Contains(der, r.CertID) {
			t.Fatal("CertID is not a part of the request")
		}
	})
}

func TestOpenSSLRequests(t *testing.T) {
	cases := map[string]error{
		"req-nonce.der": nil, "req-no-nonce.der": nil, "req-sha256.der": nil, "req-signed.der": nil, "req-two.der": ErrManyRequests,
	}
	for name, want := range cases {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRequest(b)
		if err != want {
			t.Errorf("%s: %v, want %v", name, err, want)
			continue
		}
		if err == nil && (name == "req-no-nonce.der") != (r.Nonce == nil) {
			t.Errorf("%s: nonce %x", name, r.Nonce)
		}
	}
}
