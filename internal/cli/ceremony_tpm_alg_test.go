package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCeremonyTPMRefusesEd25519: a ceremony step asked for an Ed25519 (or RSA-3072) key in a
// TPM fails with ExitInvalid and says why, before any TPM is opened (the device named does
// not exist) and without writing anything.
func TestCeremonyTPMRefusesEd25519(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ step, alg, want string }{
		{"issuing-csr", "ed25519", "a TPM 2.0 cannot hold Ed25519 keys"},
		{"root", "ed25519", "a TPM 2.0 cannot hold Ed25519 keys"},
		{"issuing-csr", "rsa-3072", "RSA-3072 keys are not made in a TPM"},
	} {
		out := filepath.Join(dir, tc.step+"-"+tc.alg+".pem")
		code, _, errOut := run(t, "ceremony", tc.step, "--key-uri", "tpmkms:name=acme-issuing-2026", "--algorithm", tc.alg,
			"--tpm-device", filepath.Join(dir, "no-such-tpm"), "--tpm-storage-dir", filepath.Join(dir, "blobs"), "--name", "Acme", "--out", out)
		if code != ExitInvalid || !strings.Contains(errOut, tc.want) {
			t.Errorf("ceremony %s --algorithm %s in a TPM: exit %d, %q; want %d saying %q", tc.step, tc.alg, code, errOut, ExitInvalid, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("ceremony %s --algorithm %s wrote %s", tc.step, tc.alg, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err == nil {
		t.Error("a refused step created the TPM storage folder")
	}
}
