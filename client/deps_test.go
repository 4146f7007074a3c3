package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientImportsOnlyTheAPI fails when the client links anything of Hallmark but the wire
// types (packages api and api/proof), or any module outside the standard library: no service, store or
// core package, and with them no zlint or CEL. Other Go programs import this package; what it
// links, they link.
func TestClientImportsOnlyTheAPI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	allowed := map[string]bool{
		"github.com/hallmark-id/hallmark/api":       true,
		"github.com/hallmark-id/hallmark/api/proof": true,
		"github.com/hallmark-id/hallmark/client":    true,
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list named no package, not even this one")
	}
	for _, dep := range deps {
		if !allowed[dep] {
			t.Errorf("the client depends on %s; it may use only the standard library and packages api and api/proof", dep)
		}
	}
}
