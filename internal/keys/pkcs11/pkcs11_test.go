//go:build pkcs11 && cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-id/hallmark/internal/keys/pkcs11/hsmtest"
)

func TestMain(m *testing.M) { hsmtest.Main(m) }

// open makes a fresh SoftHSM token and opens a Provider over it.
func open(t *testing.T, prefix string) (*pkcs11.Provider, string, string) {
	t.Helper()
	label, pin := hsmtest.Token(t, prefix)
	p, err := pkcs11.Open(pkcs11.Config{ModulePath: hsmtest.Module, Token: label, PIN: keys.Secret(pin)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p, label, pin
}

// verify checks a signature of msg by s with the standard library, as crypto/x509 would sign.
func signAndVerify(t *testing.T, s crypto.Signer, msg []byte) {
	t.Helper()
	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		h := crypto.SHA256
		if pub.Curve.Params().BitSize == 384 {
			h = crypto.SHA384
		}
		hh := h.New()
		hh.Write(msg)
		d := hh.Sum(nil)
		sig, err := s.Sign(rand.Reader, d, h)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub, d, sig) {
			t.Fatal("ECDSA signature does not verify")
		}
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Fatal("Ed25519 signature does not verify")
		}
	case *rsa.PublicKey:
		d := sha256.Sum256(msg)
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("RSA PKCS#1 v1.5: %v", err)
		}
		d5 := sha512.Sum384(msg)
		sig, err = s.Sign(rand.Reader, d5[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384})
		if err != nil {
			t.Fatalf("Sign PSS: %v", err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA384, d5[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Fatalf("RSA-PSS: %v", err)
		}
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

func TestCreateSignFind(t *testing.T) {
	p, label, pin := open(t, "create")
	ctx := context.Background()
	for _, alg := range keys.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			id := "ca-" + strings.ReplaceAll(string(alg), "_", "-")
			s, err := p.Create(ctx, id, alg)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			signAndVerify(t, s, []byte("to be signed"))
			again, err := p.Signer(ctx, id)
			if err != nil {
				t.Fatalf("Signer: %v", err)
			}
			if !again.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
				t.Fatal("Signer returned another key")
			}
			signAndVerify(t, again, []byte("again"))
			if _, err := p.Create(ctx, id, alg); !failure.Is(err, failure.Conflict) {
				t.Fatalf("second Create: want conflict, got %v", err)
			}
			if got, want := p.URI(id), "pkcs11:token="+label+";id="+id+";object="+id; got != want {
				t.Fatalf("URI = %s, want %s", got, want)
			}
		})
	}
	// An outside tool sees the keys as sensitive and never extractable.
	out := hsmtest.PKCS11Tool(t, "--token-label", label, "--login", "--pin", pin, "--list-objects", "--type", "privkey")
	if n := strings.Count(out, "Private Key Object"); n != len(keys.Algorithms()) {
		t.Fatalf("pkcs11-tool lists %d private keys, want %d:\n%s", n, len(keys.Algorithms()), out)
	}
	if n := strings.Count(out, "never extractable"); n != len(keys.Algorithms()) {
		t.Fatalf("%d keys are never extractable, want all %d:\n%s", n, len(keys.Algorithms()), out)
	}
}
