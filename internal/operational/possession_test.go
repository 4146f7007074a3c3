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
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/api/proof"
	"github.com/hallmark-id/hallmark/client"
	"github.com/hallmark-id/hallmark/internal/failure"
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

// TestVerifyProof: what the device side signs (client.Prove) verifies under the purpose,
// environment, nonce and CSR key it was signed for, with each kind of key; a change to any of
// them, another key, or a signature that is not base64 does not; a value the proof message
// refuses is an error.
func TestVerifyProof(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	csrKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyHash, err := proof.KeySHA256(csrKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	nonce := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	otherHash := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"ecdsa", ec}, {"rsa", rk}, {"ed25519", ed}} {
		t.Run(tc.name, func(t *testing.T) {
			ch := api.Challenge{ID: "chl_1", Nonce: nonce, Purpose: proof.PurposeOnboard, EnvironmentID: "env_1", CSRKeySHA256: keyHash}
			p, err := client.Prove(ch, proof.PurposeOnboard, "env_1", csrKey.Public(), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := operational.VerifyProof(tc.key.Public(), operational.PurposeOnboard, "env_1", nonce, keyHash, p.Signature); !ok || err != nil {
				t.Fatalf("the device's proof does not verify: %v, %v", ok, err)
			}
			other := ec.Public()
			if tc.key == crypto.Signer(ec) {
				other = csrKey.Public()
			}
			for _, bad := range []struct {
				name                  string
				pub                   crypto.PublicKey
				purpose               operational.Purpose
				env, nonce, hash, sig string
			}{
				{"purpose", tc.key.Public(), operational.PurposeRenew, "env_1", nonce, keyHash, p.Signature},
				{"environment", tc.key.Public(), operational.PurposeOnboard, "env_2", nonce, keyHash, p.Signature},
				{"nonce", tc.key.Public(), operational.PurposeOnboard, "env_1", base64.StdEncoding.EncodeToString([]byte("another nonce")), keyHash, p.Signature},
				{"CSR key", tc.key.Public(), operational.PurposeOnboard, "env_1", nonce, otherHash, p.Signature},
				{"key", other, operational.PurposeOnboard, "env_1", nonce, keyHash, p.Signature},
				{"not base64", tc.key.Public(), operational.PurposeOnboard, "env_1", nonce, keyHash, "!" + p.Signature},
			} {
				if ok, err := operational.VerifyProof(bad.pub, bad.purpose, bad.env, bad.nonce, bad.hash, bad.sig); ok || err != nil {
					t.Errorf("another %s: verifies %v, error %v; want false and no error", bad.name, ok, err)
				}
			}
		})
	}
	if _, err := operational.VerifyProof(ec.Public(), operational.PurposeOnboard, "env 1", nonce, keyHash, "AA=="); !failure.Is(err, failure.Invalid) {
		t.Fatalf("an environment the proof message refuses: err = %v, want invalid", err)
	}
}
