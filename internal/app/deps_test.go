package app

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/hallmark-id/hallmark/internal/"

// layer rules: a package in the key may not import (directly) any of the listed prefixes.
var (
	core     = []string{"party", "ownership", "device", "ca", "audit", "issuance", "buildrecord", "csr", "oid", "failure", "chainverify", "policy", "revocation", "environment", "strictjson", "approval", "grant"}
	services = []string{"governance", "manufacturing", "custody", "inventory", "authority", "operational", "auditlog", "reports", "support", "leader"}
	protocol = []string{"est"}
	io_      = []string{"database/sql", "net/http", "os", "os/exec"}
	// prom is Prometheus: only the metrics adapter (and the wiring) speaks it.
	prom = "github.com/prometheus"
)

// TestDependencyDirections fails when an import breaks the layering of docs/design.md: the core
// does no I/O and knows no service or adapter; services know no SQL, HTTP or concrete store.
func TestDependencyDirections(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	dec := json.NewDecoder(out)
	checked := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(p.ImportPath, mod)
		if !ok {
			continue
		}
		top := strings.Split(name, "/")[0]
		var banned []string
		switch {
		case contains(core, top):
			banned = append(append([]string{}, io_...), prefixed(services)...)
			banned = append(banned, prefixed([]string{"store", "httpapi", "app", "cli", "client", "keys", "config", "metrics"})...)
			banned = append(banned, prom)
		case contains(services, top):
			banned = []string{"database/sql", "net/http", mod + "store/sqlite", mod + "store/sqlstore", mod + "httpapi", mod + "app", mod + "cli", mod + "keys/file", mod + "metrics", prom}
		case contains(protocol, top):
			// Protocol adapters speak to services through interfaces they declare.
			banned = append([]string{"database/sql", prom}, prefixed(append([]string{"store", "app", "cli", "keys", "metrics"}, services...))...)
		case top == "agent":
			// The device side knows the server only through EST.
			banned = append([]string{"database/sql"}, prefixed(append([]string{"store", "app", "cli", "client", "httpapi"}, services...))...)
		case top == "simulate" || top == "client":
			// Clients of the API share its request types, never the server's insides.
			banned = append([]string{"database/sql"}, prefixed([]string{"store/sqlstore", "store/sqlite", "store/postgres", "app", "cli", "httpapi", "keys/file"})...)
		case top == "store" || top == "httpapi" || top == "keys":
			banned = append(prefixed([]string{"app", "cli", "metrics"}), prom)
		case top == "metrics":
			// The metrics adapter reads services through accessors; it stores and serves nothing else.
			banned = append([]string{"database/sql"}, prefixed([]string{"app", "cli", "httpapi", "client", "store/sqlite", "store/sqlstore", "store/postgres", "keys"})...)
		default:
			continue
		}
		checked++
		for _, imp := range p.Imports {
			for _, b := range banned {
				if imp == b || strings.HasPrefix(imp, b+"/") {
					t.Errorf("%s imports %s, which its layer may not", p.ImportPath, imp)
				}
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages; is the module path right?", checked)
	}
}

func prefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = mod + n
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
