//go:build swtpm

package tpm_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	"github.com/hallmark-id/hallmark/internal/keys/tpm"
	"github.com/hallmark-id/hallmark/internal/keys/tpm/swtpmtest"
)

// TestTPMDeviceLost stops the swtpm mid-run: signatures, lookups and key creation fail with
// Unavailable and say the TPM cannot be reached, within a bound; no key is recorded for the
// creation that failed; the backend reports itself down; once the TPM is back the same key
// signs again, without a new provider.
func TestTPMDeviceLost(t *testing.T) {
	p, sw, _ := open(t)
	s, err := p.Create(ctx(t), "ca-lost", keys.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	sw.Stop()
	start := time.Now()
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	if !failure.Is(err, failure.Unavailable) || !strings.Contains(err.Error(), "cannot be reached") {
		t.Fatalf("signing with the TPM gone: %v, want Unavailable saying it cannot be reached", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the failure took %s, want it within 10s", time.Since(start))
	}
	if _, err := p.Create(ctx(t), "ca-half", keys.ECDSAP256); !failure.Is(err, failure.Unavailable) {
		t.Fatalf("creating with the TPM gone: %v, want Unavailable", err)
	}
	if st := p.Stats(); st.Up || st.Ops[keys.OpResult{Op: "sign", Result: "device"}] != 1 {
		t.Errorf("stats with the TPM gone: %+v, want down and one failed signature", st)
	}
	sw.Restart()
	if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatalf("signing after the TPM came back: %v", err)
	}
	if !p.Stats().Up {
		t.Error("the backend stays down after a signature succeeded")
	}
	// The creation that failed left nothing: the name is free.
	if _, err := p.Signer(ctx(t), "ca-half"); !failure.Is(err, failure.NotFound) {
		t.Fatalf("the key whose creation failed: %v, want NotFound", err)
	}
	if _, err := p.Create(ctx(t), "ca-half", keys.ECDSAP256); err != nil {
		t.Fatalf("creating it once the TPM is back: %v", err)
	}
}

// TestTPMOpenFails: a device that is not there stops Open with Unavailable.
func TestTPMOpenFails(t *testing.T) {
	sw := swtpmtest.Start(t)
	sw.Stop()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := tpm.Open(c, tpm.Config{Device: sw.Socket, StorageDir: filepath.Join(t.TempDir(), "s")})
	if !failure.Is(err, failure.Unavailable) {
		t.Fatalf("Open on a stopped TPM: %v, want Unavailable", err)
	}
}

// TestTPMBadInput: key URIs that do not resolve or name another TPM, algorithms a TPM cannot
// hold, and private keys over the API each fail with a clear error and make nothing.
func TestTPMBadInput(t *testing.T) {
	p, sw, dir := open(t)
	for _, tc := range []struct {
		name, uri string
		kind      failure.Kind
		want      string
	}{
		{"no such key", "tpmkms:name=nope", failure.NotFound, `no key named "nope"`},
		{"other device", "tpmkms:name=x;device=/dev/tpmrm0", failure.Invalid, "this server's TPM is " + sw.Socket},
		{"other storage", "tpmkms:name=x;storage-directory=/elsewhere", failure.Invalid, "keeps its TPM keys in " + dir},
		{"attestation", "tpmkms:name=x;ak=true", failure.Invalid, `"ak" is not supported`},
		{"no name", "tpmkms:device=" + sw.Socket, failure.Invalid, "names no key"},
		{"pkcs11", "pkcs11:token=x;object=y", failure.Invalid, "not a TPM key URI"},
		{"bad name", "tpmkms:name=../../etc/passwd", failure.Invalid, "invalid key id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := p.Locate(ctx(t), tc.uri)
			if failure.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Locate(%q) = %v; want %s saying %q", tc.uri, err, tc.kind, tc.want)
			}
		})
	}
	for _, alg := range []keys.Algorithm{keys.Ed25519, keys.RSA3072, "ecdsa-p521"} {
		if _, err := p.Create(ctx(t), "audit-checkpoint", alg); !failure.Is(err, failure.Invalid) {
			t.Errorf("Create(%s) = %v, want Invalid", alg, err)
		}
		if err := tpm.CheckAlgorithm(alg); !failure.Is(err, failure.Invalid) {
			t.Errorf("CheckAlgorithm(%s) = %v, want Invalid", alg, err)
		}
	}
	if err := tpm.CheckAlgorithm(keys.Ed25519); !strings.Contains(err.Error(), "cannot hold Ed25519") {
		t.Errorf("the Ed25519 refusal does not say why: %v", err)
	}
	if _, err := p.Import(ctx(t), "ca-imported", []byte("-----BEGIN PRIVATE KEY-----"), nil); !failure.Is(err, failure.Invalid) {
		t.Errorf("Import: %v, want Invalid", err)
	}
	if _, err := p.Signer(ctx(t), "audit-checkpoint"); !failure.Is(err, failure.NotFound) {
		t.Errorf("a refused creation left a key: %v", err)
	}
}
