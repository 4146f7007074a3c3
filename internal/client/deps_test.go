package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientStaysAClient fails when the client links server-side code: the HTTP server, the
// composition root, stores, keys or the signing packages. Request and response types it needs
// from those are mirrored in api.go.
func TestClientStaysAClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	const mod = "github.com/hallmark-id/hallmark/internal/"
	banned := []string{"httpapi", "app", "cli", "manufacturing", "authority", "issuance", "keys", "csr", "store/sqlite", "store/sqlstore"}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if dep == mod+b || strings.HasPrefix(dep, mod+b+"/") {
				t.Errorf("internal/client depends on %s", dep)
			}
		}
	}
}
