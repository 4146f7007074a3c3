//go:build swtpm

package tpm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/tpm"
	"github.com/hallmark-id/hallmark/internal/keys/tpm/swtpmtest"
)

// open starts a swtpm and opens a provider on it with a fresh storage folder.
func open(t *testing.T) (*tpm.Provider, *swtpmtest.TPM, string) { return openB(t) }

func openB(t testing.TB) (*tpm.Provider, *swtpmtest.TPM, string) {
	t.Helper()
	sw := swtpmtest.Start(t)
	dir := filepath.Join(t.TempDir(), "tpm")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := tpm.Open(ctx, tpm.Config{Device: sw.Socket, StorageDir: dir})
	if err != nil {
		t.Fatalf("opening the TPM: %v", err)
	}
	return p, sw, dir
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestTPMCreateSignFind makes P-256 and P-384 keys in a real swtpm, signs with them, finds
// them again by ID and by key URI, and checks the signatures with the public keys.
func TestTPMCreateSignFind(t *testing.T) {
	p, _, dir := open(t)
	for _, tc := range []struct {
		alg   keys.Algorithm
		curve elliptic.Curve
		hash  crypto.Hash
	}{{keys.ECDSAP256, elliptic.P256(), crypto.SHA256}, {keys.ECDSAP384, elliptic.P384(), crypto.SHA384}} {
		t.Run(string(tc.alg), func(t *testing.T) {
			id := "ca-test-" + string(tc.alg)
			s, err := p.Create(ctx(t), id, tc.alg)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			pub, ok := s.Public().(*ecdsa.PublicKey)
			if !ok || pub.Curve != tc.curve {
				t.Fatalf("public key %T, want ECDSA on %s", s.Public(), tc.curve.Params().Name)
			}
			msg := []byte("hallmark tpm " + id)
			var digest []byte
			if tc.hash == crypto.SHA256 {
				d := sha256.Sum256(msg)
				digest = d[:]
			} else {
				d := sha512.Sum384(msg)
				digest = d[:]
			}
			sig, err := s.Sign(rand.Reader, digest, tc.hash)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				t.Fatal("the TPM's signature does not verify with the key's public half")
			}
			again, err := p.Signer(ctx(t), id)
			if err != nil || !pub.Equal(again.Public()) {
				t.Fatalf("Signer(%s) = %v, %v; want the same key", id, again, err)
			}
			byURI, canon, err := p.Locate(ctx(t), "tpmkms:name="+id)
			if err != nil || canon != "tpmkms:name="+id || !pub.Equal(byURI.Public()) {
				t.Fatalf("Locate = %v, %q, %v", byURI, canon, err)
			}
			if _, err := p.Create(ctx(t), id, tc.alg); !failure.Is(err, failure.Conflict) {
				t.Fatalf("a second Create under %s: %v, want Conflict", id, err)
			}
		})
	}
	// What lies on disk is wrapped by the TPM: no PEM private key in the storage folder.
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), "PRIVATE KEY") {
			t.Errorf("%s holds a PEM private key", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if !st.Up || st.Ops[keys.OpResult{Op: "sign", Result: "ok"}] != 2 {
		t.Errorf("stats %+v, want up and 2 signatures", st)
	}
}
