package api

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAPIImportsOnlyTheStandardLibrary: the wire types are plain data that any Go program can
// import without linking Hallmark's server.
func TestAPIImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) != 1 || deps[0] != "github.com/hallmark-id/hallmark/api" {
		t.Errorf("package api depends on %v; it may use only the standard library", deps)
	}
}
