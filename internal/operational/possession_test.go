package operational_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/operational"
)

// TestVerifyChallenge: signatures of each kind Proof describes verify; another key's, or one over
// another nonce, do not.
func TestVerifyChallenge(t *testing.T) {
	nonce := []byte("0123456789abcdef0123456789abcdef")
	h := sha256.Sum256(nonce)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		sign func(msg []byte) ([]byte, error)
	}{
		{"ecdsa", ec, func(m []byte) ([]byte, error) { d := sha256.Sum256(m); return ecdsa.SignASN1(rand.Reader, ec, d[:]) }},
		{"rsa", rk, func(m []byte) ([]byte, error) {
			d := sha256.Sum256(m)
			return rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, d[:])
		}},
		{"ed25519", ed, func(m []byte) ([]byte, error) { return ed25519.Sign(ed, m), nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := tc.sign(nonce)
			if err != nil {
				t.Fatal(err)
			}
			if !operational.VerifyChallenge(tc.key.Public(), nonce, sig) {
				t.Fatal("a good signature does not verify")
			}
			if operational.VerifyChallenge(tc.key.Public(), []byte("another nonce"), sig) {
				t.Fatal("a signature over another nonce verifies")
			}
			if operational.VerifyChallenge(ec.Public(), nonce, []byte{}) {
				t.Fatal("an empty signature verifies")
			}
		})
	}
	ecSig, err := ecdsa.SignASN1(rand.Reader, ec, h[:])
	if err != nil {
		t.Fatal(err)
	}
	if operational.VerifyChallenge(rk.Public(), nonce, ecSig) || operational.VerifyChallenge(ed.Public(), nonce, ecSig) {
		t.Fatal("an ECDSA signature verifies under another key")
	}
}

// TestVerifyChallengeOpenSSL: what `openssl dgst -sha256 -sign key` makes (Proof's doc) verifies.
func TestVerifyChallengeOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	nonce := []byte("0123456789abcdef0123456789abcdef")
	run := func(args ...string) []byte {
		out, err := exec.Command("openssl", args...).Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	key, nonceFile := filepath.Join(dir, "k.pem"), filepath.Join(dir, "nonce")
	if err := os.WriteFile(nonceFile, nonce, 0o600); err != nil {
		t.Fatal(err)
	}
	run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
	sig := run("dgst", "-sha256", "-sign", key, nonceFile)
	pub, err := x509.ParsePKIXPublicKey(run("pkey", "-in", key, "-pubout", "-outform", "DER"))
	if err != nil {
		t.Fatal(err)
	}
	if !operational.VerifyChallenge(pub, nonce, sig) {
		t.Fatal("openssl's signature does not verify")
	}
}
