package keys_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/keys"
	keyfile "github.com/hallmark-id/hallmark/internal/keys/file"
)

func TestKindOf(t *testing.T) {
	for id, want := range map[string]keys.Kind{
		"ca-x2v4": keys.KindCA, "brk-abc": keys.KindBuildRecord, "audit-checkpoint": keys.KindAudit,
		"audit-checkpoint-0123456789abcdef": keys.KindAudit, "ocsp-ca-x-01": keys.KindOCSP,
		"dev-tls-ca": keys.KindOther, "audit-checkpointx": keys.KindOther, "cab": keys.KindOther,
	} {
		if got := keys.KindOf(id); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestRouter keeps CA keys in one folder of encrypted files and every other kind in another:
// each key lands, and is found, where its kind lives; a key URI goes by its scheme.
func TestRouter(t *testing.T) {
	caDir, otherDir := t.TempDir(), t.TempDir()
	ca, err := keyfile.New(caDir, keys.Secret("ca-pass"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := keyfile.New(otherDir, keys.Secret("other-pass"))
	if err != nil {
		t.Fatal(err)
	}
	r := keys.NewRouter(other, map[keys.Kind]keys.Provider{keys.KindCA: ca}, nil)
	ctx := context.Background()
	for _, id := range []string{"ca-one", "audit-checkpoint", "brk-one", "ocsp-ca-one-01"} {
		alg := keys.ECDSAP256
		if keys.KindOf(id) == keys.KindAudit {
			alg = keys.Ed25519
		}
		if _, err := r.Create(ctx, id, alg); err != nil {
			t.Fatalf("Create(%s): %v", id, err)
		}
		want := otherDir
		if keys.KindOf(id) == keys.KindCA {
			want = caDir
		}
		if m, _ := filepath.Glob(filepath.Join(want, id+"*")); len(m) != 1 {
			entries, _ := os.ReadDir(want)
			t.Errorf("%s is not in %s: %v", id, want, entries)
		}
		if _, err := r.Signer(ctx, id); err != nil {
			t.Errorf("Signer(%s): %v", id, err)
		}
	}
	if _, err := other.Signer(ctx, "ca-one"); !failure.Is(err, failure.NotFound) {
		t.Errorf("the CA key is in the other backend too: %v", err)
	}
	_, _, err = r.Locate(ctx, "tpmkms:name=ca-one")
	if !failure.Is(err, failure.Invalid) || !strings.Contains(err.Error(), `no configured key backend resolves "tpmkms" key URIs`) {
		t.Errorf("Locate with no TPM configured: %v", err)
	}
	if u := r.URI("ca-one"); u != "" {
		t.Errorf("URI of a file key = %q, want none", u)
	}
}
