package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// fuzzMaxIter keeps each input cheap; the OpenSSL seeds use 2,048 iterations.
const fuzzMaxIter = 20_000

// FuzzImport feeds the parser behind Provider.Import (ParsePrivateKeyPEM) with mutations of the
// throwaway OpenSSL test keys in testdata. It must never panic, every refusal must carry a kind
// the edge can report (invalid or too-large), and every accepted key must pass the key policy and
// sign.
func FuzzImport(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "test-*.pem"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed keys in testdata (%v)", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		pass := ""
		if strings.Contains(p, "-pass-x") {
			pass = "x"
		}
		f.Add(b, pass)
	}
	f.Fuzz(func(t *testing.T, data []byte, pass string) {
		s, err := parsePEM(data, []byte(pass), fuzzMaxIter, false)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("error of kind %v, want invalid or too-large: %v", k, err)
			}
			if s != nil {
				t.Fatal("non-nil signer with an error")
			}
			return
		}
		checkOpaque(t, s)
		switch pubName(s.Public()) {
		case "P-256", "P-384", "Ed25519":
		default:
			if n := pubName(s.Public()); !strings.HasPrefix(n, "RSA-") {
				t.Fatalf("accepted a %s key", n)
			}
		}
		checkSigns(t, s)
	})
}
