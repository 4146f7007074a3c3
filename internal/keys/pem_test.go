package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSigns signs a digest with s and verifies it with s.Public().
func checkSigns(t testing.TB, s crypto.Signer) {
	t.Helper()
	msg := []byte("hallmark test message")
	digest := sha256.Sum256(msg)
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Fatalf("ECDSA signature does not verify (err %v)", err)
		}
	case *rsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("RSA signature does not verify (err %v)", err)
		}
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("Ed25519 signature does not verify (err %v)", err)
		}
	default:
		t.Fatalf("unexpected public key type %T", pub)
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		pass     string
		wantPub  string // type of the public key when accepted
		wantKind failure.Kind
		wantMsg  string // part of the error message when refused
	}{
		{name: "PKCS#8 P-256", file: "test-ec-p256-pkcs8.pem", wantPub: "P-256"},
		{name: "PKCS#8 P-384", file: "test-ec-p384-pkcs8.pem", wantPub: "P-384"},
		{name: "SEC1 P-256", file: "test-ec-p256-sec1.pem", wantPub: "P-256"},
		{name: "SEC1 P-384 after EC PARAMETERS", file: "test-ec-p384-sec1-with-params.pem", wantPub: "P-384"},
		{name: "PKCS#1 RSA-3072", file: "test-rsa-3072-pkcs1.pem", wantPub: "RSA-3072"},
		{name: "PKCS#8 Ed25519", file: "test-ed25519-pkcs8.pem", wantPub: "Ed25519"},
		{name: "passphrase ignored for clear key", file: "test-ec-p256-pkcs8.pem", pass: "x", wantPub: "P-256"},
		{name: "openssl encrypted PKCS#8", file: "test-ec-p256-pkcs8-encrypted-pass-x.pem", pass: "x", wantPub: "P-256"},
		{name: "openssl encrypted SHA-512 AES-128", file: "test-ed25519-pkcs8-encrypted-sha512-aes128-pass-x.pem", pass: "x", wantPub: "Ed25519"},
		{name: "encrypted wrong passphrase", file: "test-ec-p256-pkcs8-encrypted-pass-x.pem", pass: "y", wantKind: failure.Invalid, wantMsg: "wrong passphrase"},
		{name: "encrypted no passphrase", file: "test-ec-p256-pkcs8-encrypted-pass-x.pem", wantKind: failure.Invalid, wantMsg: "passphrase is needed"},
		{name: "3DES refused", file: "test-ec-p256-pkcs8-encrypted-3des-pass-x.pem", pass: "x", wantKind: failure.Invalid, wantMsg: "only AES-CBC"},
		{name: "legacy PEM encryption refused", file: "test-ec-p256-sec1-legacy-encrypted-pass-x.pem", pass: "x", wantKind: failure.Invalid, wantMsg: "legacy PEM encryption"},
		{name: "RSA-1024 refused", file: "test-rsa-1024-pkcs1-weak.pem", wantKind: failure.Invalid, wantMsg: "too weak"},
		{name: "P-224 refused", file: "test-ec-p224-pkcs8-weak.pem", wantKind: failure.Invalid, wantMsg: "P-224"},
		{name: "P-521 refused", file: "test-ec-p521-pkcs8-unsupported.pem", wantKind: failure.Invalid, wantMsg: "P-521"},
		{name: "X25519 refused", file: "test-x25519-pkcs8-not-a-signer.pem", wantKind: failure.Invalid, wantMsg: "unsupported key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParsePrivateKeyPEM(readTestdata(t, tt.file), []byte(tt.pass))
			if tt.wantKind != failure.Unclassified {
				if !failure.Is(err, tt.wantKind) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error = %v; want kind %v containing %q", err, tt.wantKind, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := pubName(s.Public()); got != tt.wantPub {
				t.Fatalf("public key %s; want %s", got, tt.wantPub)
			}
			checkOpaque(t, s)
			checkSigns(t, s)
		})
	}
}

func TestParsePrivateKeyPEMMalformed(t *testing.T) {
	p256 := readTestdata(t, "test-ec-p256-pkcs8.pem")
	block, _ := pem.Decode(p256)
	tests := []struct {
		name     string
		data     []byte
		wantKind failure.Kind
		wantMsg  string
	}{
		{"empty", nil, failure.Invalid, "no PEM private key"},
		{"garbage", []byte("this is not a key"), failure.Invalid, "no PEM private key"},
		{"certificate only", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}}), failure.Invalid, "no PEM private key"},
		{"two keys", append(append([]byte{}, p256...), readTestdata(t, "test-ec-p384-pkcs8.pem")...), failure.Invalid, "more than one"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), failure.Invalid, "malformed PRIVATE KEY"},
		{"truncated DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: block.Bytes[:len(block.Bytes)-5]}), failure.Invalid, "malformed"},
		{"unknown block", pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{1}}), failure.Invalid, "unsupported PEM block"},
		{"OpenSSH", pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte{1}}), failure.Invalid, "unsupported PEM block"},
		{"encrypted garbage", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}), failure.Invalid, "malformed ENCRYPTED"},
		{"too large", bytes.Repeat([]byte("A"), MaxPEMSize+1), failure.TooLarge, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKeyPEM(tt.data, []byte("x"))
			if !failure.Is(err, tt.wantKind) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %v; want kind %v containing %q", err, tt.wantKind, tt.wantMsg)
			}
		})
	}
}

func TestEncryptedRoundTrip(t *testing.T) {
	pass := []byte("correct horse battery staple")
	for _, alg := range Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			s, err := Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			checkOpaque(t, s)
			data, err := MarshalEncryptedPEM(s, pass)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(data, []byte("PRIVATE KEY-----")); n != 2 || bytes.Count(data, []byte("ENCRYPTED PRIVATE KEY-----")) != 2 {
				t.Fatalf("output is not a single ENCRYPTED PRIVATE KEY block:\n%s", data)
			}
			checkPBES2Params(t, data)

			back, err := UnmarshalEncryptedPEM(data, pass)
			if err != nil {
				t.Fatal(err)
			}
			if !publicEqual(s.Public(), back.Public()) {
				t.Fatal("public key changed in the round trip")
			}
			checkSigns(t, back)

			_, err = UnmarshalEncryptedPEM(data, []byte("wrong"))
			if !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: %v; want ErrWrongPassphrase", err)
			}
		})
	}
}

func TestMarshalEncryptedPEMRefuses(t *testing.T) {
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	own, err := Generate(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    crypto.Signer
		pass string
	}{
		{"foreign signer", foreign, "x"},
		{"empty passphrase", own, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := MarshalEncryptedPEM(tt.s, []byte(tt.pass)); err == nil {
				t.Fatal("MarshalEncryptedPEM succeeded; want an error")
			}
		})
	}
}

func TestUnmarshalEncryptedPEMRefusesClear(t *testing.T) {
	_, err := UnmarshalEncryptedPEM(readTestdata(t, "test-ec-p256-pkcs8.pem"), []byte("x"))
	if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), "expected an ENCRYPTED PRIVATE KEY") {
		t.Fatalf("error = %v; want a refusal of a clear key", err)
	}
}

// checkPBES2Params pins what pemutil actually writes: PBES2 with PBKDF2-HMAC-SHA256 at 600,000
// iterations, a 16-byte salt, and AES-256-CBC.
func checkPBES2Params(t *testing.T, data []byte) {
	t.Helper()
	block, _ := pem.Decode(data)
	var info encryptedPrivateKeyInfo
	var params pbes2Params
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		t.Fatal(err)
	}
	switch {
	case !info.Algorithm.Algorithm.Equal(oidPBES2):
		t.Errorf("scheme %v; want PBES2", info.Algorithm.Algorithm)
	case !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2):
		t.Errorf("KDF %v; want PBKDF2", params.KeyDerivationFunc.Algorithm)
	case !kdf.PRF.Algorithm.Equal(oidHMACSHA256):
		t.Errorf("PRF %v; want hmacWithSHA256", kdf.PRF.Algorithm)
	case kdf.IterationCount != 600_000:
		t.Errorf("iterations %d; want 600000", kdf.IterationCount)
	case len(kdf.Salt) != 16:
		t.Errorf("salt %d bytes; want 16", len(kdf.Salt))
	case !params.EncryptionScheme.Algorithm.Equal(oidAES256CBC):
		t.Errorf("cipher %v; want AES-256-CBC", params.EncryptionScheme.Algorithm)
	}
}

// checkOpaque fails if s can be type-asserted to a private key type.
func checkOpaque(t testing.TB, s crypto.Signer) {
	t.Helper()
	switch s.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		t.Fatalf("signer is a bare %T; want an opaque signer", s)
	}
	// buildrecord.Sign relies on this to skip re-verifying a software key's signature.
	if ip, ok := s.(interface{ InProcess() bool }); !ok || !ip.InProcess() {
		t.Fatalf("signer %T does not report that it signs in process", s)
	}
}

func pubName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return k.Curve.Params().Name
	case *rsa.PublicKey:
		return "RSA-" + strconv.Itoa(k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return "unknown"
}

func publicEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// withIterations returns an ENCRYPTED PRIVATE KEY PEM with its PBKDF2 iteration count set to n
// (the ciphertext no longer matches, which does not matter to a refusal made before any
// derivation).
func withIterations(t testing.TB, data []byte, n int) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	var info encryptedPrivateKeyInfo
	var params pbes2Params
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		t.Fatal(err)
	}
	kdf.IterationCount = n
	remarshal := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	params.KeyDerivationFunc.Parameters = remarshal(kdf)
	info.Algorithm.Parameters = remarshal(params)
	der, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
}

// TestPBKDF2IterationsBounded: a key file asking for 10 million PBKDF2 iterations (seconds of
// CPU per attempt, twice per import before) is refused, before any derivation, with an error
// that says how to fix it; keys at the tools' iteration counts still open.
func TestPBKDF2IterationsBounded(t *testing.T) {
	good := readTestdata(t, "test-ec-p256-pkcs8-encrypted-pass-x.pem")
	if _, err := ParsePrivateKeyPEM(good, []byte("x")); err != nil {
		t.Fatalf("OpenSSL's default iterations: %v", err)
	}
	for _, n := range []int{MaxPBKDF2Iterations + 1, 10_000_000, 1 << 30} {
		data := withIterations(t, good, n)
		for name, parse := range map[string]func([]byte, []byte) (crypto.Signer, error){"ParsePrivateKeyPEM": ParsePrivateKeyPEM, "UnmarshalEncryptedPEM": UnmarshalEncryptedPEM} {
			_, err := parse(data, []byte("x"))
			if !failure.Is(err, failure.Invalid) || errors.Is(err, ErrWrongPassphrase) ||
				!strings.Contains(err.Error(), strconv.Itoa(n)+" PBKDF2 iterations, more than the 1000000 allowed") || !strings.Contains(err.Error(), "-iter 600000") {
				t.Errorf("%s with %d iterations: %v", name, n, err)
			}
		}
	}
	// A count within the bound is derived (and here, with the ciphertext of another count, the
	// padding check fails as for a wrong passphrase).
	if _, err := ParsePrivateKeyPEM(withIterations(t, good, 4096), []byte("x")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("4096 iterations: %v, want the derivation to run and the key not to open", err)
	}
}
