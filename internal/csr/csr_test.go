package csr

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func derOf(t *testing.T, name string) []byte {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, name))
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	return blk.Bytes
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		file string
		cn   string
	}{
		{"p256.csr.pem", "device-p256"},
		{"p256.csr.der", "device-p256"},
		{"p384.csr.pem", "device-p384"},
		{"rsa2048.csr.pem", "device-rsa2048"},
		{"ed25519.csr.pem", "device-ed25519"},
		{"hwmodule.csr.pem", "SN-0001"},
		{"hwmodule.csr.der", "SN-0001"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			req, err := Parse(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if req.Subject.CommonName != tc.cn {
				t.Errorf("CN = %q, want %q", req.Subject.CommonName, tc.cn)
			}
		})
	}
	// "NEW CERTIFICATE REQUEST", surrounding whitespace.
	legacy := pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: derOf(t, "p384.csr.pem")})
	if _, err := Parse(append(append([]byte("\n  "), legacy...), "\n\n"...)); err != nil {
		t.Errorf("NEW CERTIFICATE REQUEST: %v", err)
	}
}

func TestParseRefuses(t *testing.T) {
	good := derOf(t, "p256.csr.pem")
	badSig := bytes.Clone(good)
	badSig[len(badSig)-5] ^= 0x01 // inside the signature BIT STRING
	truncated := good[:len(good)-10]
	var trailing []byte
	trailing = append(append(trailing, good...), 0x00)
	wrongPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: good})
	twoPEM := append(readTestdata(t, "p256.csr.pem"), readTestdata(t, "p384.csr.pem")...)
	big := make([]byte, MaxSize+1)

	tests := []struct {
		name    string
		data    []byte
		kind    failure.Kind
		message string // a part of the error message
	}{
		{"empty", nil, failure.Invalid, "empty"},
		{"garbage", []byte("this is not a certificate request"), failure.Invalid, "not a PKCS#10"},
		{"garbage PEM", []byte("-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n"), failure.Invalid, "malformed PEM"},
		{"truncated DER", truncated, failure.Invalid, "not a PKCS#10"},
		{"trailing data", trailing, failure.Invalid, ""},
		{"bad signature", badSig, failure.Invalid, "signature does not verify"},
		{"wrong PEM type", wrongPEM, failure.Invalid, `"CERTIFICATE"`},
		{"two PEM blocks", twoPEM, failure.Invalid, "after the PEM block"},
		{"oversized", big, failure.TooLarge, "limit"},
		{"RSA-1024", readTestdata(t, "rsa1024.csr.pem"), failure.Invalid, "RSA-1024 is too weak"},
		{"RSA exponent 3", readTestdata(t, "rsa2048-e3.csr.pem"), failure.Invalid, "exponent 3"},
		{"P-224", readTestdata(t, "p224.csr.pem"), failure.Invalid, "P-224"},
		{"P-521", readTestdata(t, "p521.csr.pem"), failure.Invalid, "P-521"},
		{"DSA", readTestdata(t, "dsa.csr.pem"), failure.Invalid, "DSA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Parse(tc.data)
			if req != nil || !failure.Is(err, tc.kind) {
				t.Fatalf("Parse = %v, %v; want kind %v", req, err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	huge := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 8200), E: 65537}
	tests := []struct {
		name string
		key  any
		ok   bool
	}{
		{"P-256", p256.Public(), true},
		{"Ed25519", ed, true},
		{"RSA-2048", rsa2048.Public(), true},
		{"RSA-8201", huge, false},
		{"nil", nil, false},
		{"short Ed25519", ed25519.PublicKey(ed[:10]), false},
		{"X25519 (ECDH)", x25519.PublicKey(), false},
		{"string", "not a key", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckKey(tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckKey = %v, want ok=%t", err, tc.ok)
			}
			if err != nil && !failure.Is(err, failure.Invalid) {
				t.Errorf("kind = %v", failure.KindOf(err))
			}
		})
	}
}

// TestParseGoMade: a request Go makes with an allowed key parses; it exercises the
// proof-of-possession check with a key not from testdata.
func TestParseGoMade(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "go"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(der); err != nil {
		t.Fatal(err)
	}
}
