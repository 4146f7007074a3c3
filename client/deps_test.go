package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientStaysAClient fails when the client links the server itself: the HTTP server, the
// composition root, the CLI or the SQL stores. It may import the service packages
// (internal/manufacturing, internal/operational, ...) for their request and response types,
// and through them the store interfaces, keys and signing packages; it must never open a
// database or serve.
func TestClientStaysAClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	const mod = "github.com/hallmark-id/hallmark/internal/"
	banned := []string{"httpapi", "app", "cli", "store/sqlite", "store/sqlstore"}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if dep == mod+b || strings.HasPrefix(dep, mod+b+"/") {
				t.Errorf("the client depends on %s", dep)
			}
		}
	}
}
