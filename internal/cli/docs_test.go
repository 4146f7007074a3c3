package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestDocsAreCurrent fails when docs/cli differs from what "hallmark docs cli" generates, so
// the committed reference is always generated from the code. To fix it, run
//
//	go run ./cmd/hallmark docs cli --out docs/cli
func TestDocsAreCurrent(t *testing.T) {
	committed := filepath.Join("..", "..", "docs", "cli")
	fresh := t.TempDir()
	if code, _, stderr := run(t, "docs", "cli", "--out", fresh); code != 0 {
		t.Fatalf("docs cli: exit %d: %s", code, stderr)
	}
	want, err := os.ReadDir(fresh)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	if entries, err := os.ReadDir(committed); err == nil {
		for _, e := range entries {
			have[e.Name()] = true
		}
	}
	const fix = "; regenerate with: go run ./cmd/hallmark docs cli --out docs/cli"
	for _, e := range want {
		got, err := os.ReadFile(filepath.Join(committed, e.Name()))
		if err != nil {
			t.Errorf("docs/cli/%s is missing%s", e.Name(), fix)
			continue
		}
		delete(have, e.Name())
		gen, err := os.ReadFile(filepath.Join(fresh, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, gen) {
			t.Errorf("docs/cli/%s is stale%s", e.Name(), fix)
		}
	}
	for name := range have {
		t.Errorf("docs/cli/%s documents no command; delete it%s", name, fix)
	}
}
