package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/hallmark-id/hallmark/"

// layers classifies every package of the module (paths relative to the module). docs/design.md
// draws the same picture; a package that is not here fails TestDependencies.
var layers = map[string]string{
	"cmd/hallmark": "entry",
	"internal/cli": "cli",
	"internal/app": "app",

	"internal/config": "config",

	// BRSKI (RFC 8995, docs/brski.md): vouchers and voucher requests (core: no I/O), the MASA
	// and the registrar (services), their well-known endpoints and the MASA client (adapter).
	"internal/brski/voucher":   "core",
	"internal/brski/masa":      "services",
	"internal/brski/registrar": "services",
	"internal/brski":           "adapters",

	// The REST API's wire types and the proof-of-possession message: public, standard library
	// only, shared by the server's edge, the client and any outside program.
	"api":       "wire",
	"api/proof": "wire",

	// Outside the server: the REST client, the device side, the fleet simulator.
	"client":            "client",
	"internal/agent":    "device",
	"internal/simulate": "tools",
	// A measuring instrument for issue 21 (BENCHMARKS.md): the guarantees' work alone.
	"tools/floor": "instrument",

	// Adapters: protocols and observability at the edge.
	"internal/httpapi":   "adapters",
	"internal/est":       "adapters",
	"internal/status":    "adapters",
	"internal/admission": "adapters",
	// makerstatus fetches and checks other makers' CRLs and OCSP answers over HTTP.
	"internal/makerstatus": "adapters",
	"internal/metrics":     "adapters",
	// The web console at /ui/: it reaches data only through the REST API (package client).
	"internal/console": "console",
	// signin speaks OpenID Connect to each party's identity provider over HTTP.
	"internal/signin": "adapters",

	// The storage contract, its implementations and its conformance suite.
	"internal/store":           "store",
	"internal/store/sqlstore":  "stores",
	"internal/store/sqlite":    "stores",
	"internal/store/postgres":  "stores",
	"internal/store/storetest": "storetest",
	"internal/store/pgtest":    "storetest", // an empty PostgreSQL schema for tests
	// readcache wraps a store with the per-replica cache of authentication and authorization
	// reads, kept correct across replicas by the governance epoch (issue 21).
	"internal/readcache": "stores",

	"internal/keys":      "keys",
	"internal/keys/file": "keys",
	// PKCS#11 HSMs (built with -tags pkcs11 and cgo; without, it only says how to build).
	"internal/keys/pkcs11": "keys",
	// hsmtest sets up SoftHSM2 tokens for tests; nothing outside tests imports it.
	"internal/keys/pkcs11/hsmtest": "test",
	// TPM 2.0 (pure Go, through go.step.sm/crypto/tpm; docs/keys.md).
	"internal/keys/tpm": "keys",
	// swtpmtest runs a software TPM for tests; nothing outside tests imports it.
	"internal/keys/tpm/swtpmtest": "test",

	"internal/governance":    "services",
	"internal/manufacturing": "services",
	"internal/custody":       "services",
	"internal/inventory":     "services",
	"internal/authority":     "services",
	"internal/operational":   "services",
	"internal/auditlog":      "services",
	"internal/reports":       "services",
	"internal/support":       "services",
	"internal/leader":        "services",
	"internal/rotation":      "services",
	// refusals records refusals of authenticated callers as audit events (issue 17).
	"internal/refusals": "services",
	"internal/makers":   "services",
	// custodyvouchers exports and imports custody vouchers between deployments (issue 18).
	"internal/custodyvouchers": "services",

	"internal/party":       "core",
	"internal/ownership":   "core",
	"internal/device":      "core",
	"internal/ca":          "core",
	"internal/audit":       "core",
	"internal/issuance":    "core",
	"internal/buildrecord": "core",
	"internal/csr":         "core",
	"internal/oid":         "core",
	"internal/failure":     "core",
	"internal/chainverify": "core",
	"internal/sigmemo":     "core",
	"internal/policy":      "core",
	"internal/revocation":  "core",
	"internal/environment": "core",
	"internal/strictjson":  "core",
	"internal/approval":    "core",
	"internal/waiver":      "core",
	"internal/grant":       "core",
	"internal/certpem":     "core",
	"internal/manifest":    "core",
	"internal/policyinput": "core",
	"internal/maker":       "core",
	// custodyvoucher reads, extends and verifies custody vouchers offline (issue 18).
	"internal/custodyvoucher": "core",

	"internal/deptest": "test",
	// Test helpers that build outside parts (a maker's PKI with openssl) for tests only.
	"internal/makerstatus/makertest": "testkit",
	// signintest runs a real OpenID Provider (a party's identity provider) on loopback for tests.
	"internal/signin/signintest": "testkit",
}

// A rule says that the packages From names may not depend, directly or through any chain of
// imports, on the packages Deny names.
//
// From and Deny name a layer as "@layer" and a package by its path, internal ones relative to
// the module; "x/..." is x and every package below it. Via lists packages through which a
// denied dependency may be reached (say why in Why); any other path to it is still a
// violation. Pending, when set, names the work that will make a rule hold that does not hold
// yet: its violations are logged, not failed. Delete Pending when that work lands. Direct
// limits a rule to From's own imports, for a package that may reach Deny only through the
// packages it calls (an adapter reaches the store contract through the services it calls,
// which import it; the adapter itself may not).
type rule struct {
	From    []string
	Deny    []string
	Via     []string
	Why     string
	Pending string
	Direct  bool
}

var (
	// io is what a pure package must not reach.
	io_ = []string{"database/sql/...", "net/http/...", "os/exec", "os/signal", "net/rpc/...", "net/smtp"}
	// suffixList is the one way into net/http the core tolerates: zlint's zcrypto needs the
	// public suffix list, whose package imports net/http/cookiejar only to implement its
	// PublicSuffixList interface. It makes no request.
	suffixList = []string{"github.com/weppos/publicsuffix-go/publicsuffix"}
	prometheus = "github.com/prometheus/..."
	// wiring is what only main, the CLI and the composition root may reach.
	wiring = []string{"@entry", "@cli", "@app"}
)

func with(lists ...[]string) []string { return slices.Concat(lists...) }

var rules = []rule{
	{
		From: []string{"@console"},
		Deny: with(wiring, []string{"database/sql/...", "@config", "@device", "@tools", "@adapters", "@store", "@stores", "@storetest", "@keys", "@services", prometheus}),
		Why:  "the console calls the server's own REST API with each person's credential, so there is no second authorisation path",
	},
	{
		From: []string{"@core"}, Deny: io_, Via: suffixList,
		Why: "the core is pure: it computes on values it is given and does no I/O (docs/design.md)",
	},
	{
		From: []string{"@core"},
		Deny: with(wiring, []string{"@config", "@client", "@device", "@tools", "@adapters", "@store", "@stores", "@storetest", "@keys", "@services", prometheus}),
		Why:  "dependencies point inward: the core knows no service, store, key backend, adapter or client",
	},
	{
		From: []string{"@store"},
		Deny: with(wiring, io_, []string{"@config", "@client", "@device", "@tools", "@adapters", "@stores", "@storetest", "@keys", "@services", prometheus}),
		Via:  suffixList,
		Why:  "the store contract is interfaces and values over the domain: its implementations depend on it, never it on them",
	},
	{
		From: []string{"@services"},
		Deny: with(wiring, io_, []string{"@config", "@client", "@device", "@tools", "@adapters", "@stores", "@storetest", "internal/keys/file", prometheus}),
		Via:  suffixList,
		Why:  "services know no SQL, HTTP or concrete store: they reach data through the store contract and keys through keys.Provider",
	},
	{
		From: []string{"@stores"},
		Deny: with(wiring, []string{"net/http/...", "@config", "@client", "@device", "@tools", "@adapters", "@storetest", "@keys", "@services", prometheus}),
		Why:  "a store implements the contract over SQL: it knows the domain values and nothing that acts on them",
	},
	{
		From: []string{"@storetest"},
		Deny: with(wiring, []string{"@stores", "@services", "@adapters", "@keys", "@client"}),
		Why:  "the conformance suite is run by every store and may favour none",
	},
	{
		From: []string{"@keys"},
		Deny: with(wiring, []string{"database/sql/...", "net/http/...", "internal/device", "@config", "@client", "@device", "@tools", "@adapters", "@store", "@stores", "@services", prometheus}),
		// go.step.sm/crypto/tpm imports net/http only to download EK certificates from TPM
		// makers, which internal/keys/tpm turns off (WithDisableDownload): it makes no request.
		Via: []string{"go.step.sm/crypto/tpm"},
		Why: "the code that holds a CA key knows nothing of devices, storage or HTTP (keys are crypto.Signer behind a provider)",
	},
	{
		From: []string{"@adapters"},
		Deny: with(wiring, []string{"database/sql/...", "@config", "@client", "@device", "@tools", "@stores", "@storetest", "internal/keys/file"}),
		// Prometheus's collectors package imports database/sql for its DBStats collector type.
		Via: []string{"github.com/prometheus/client_golang/prometheus/collectors"},
		Why: "adapters reach data through services and the store contract, never a concrete store or key backend",
	},
	{
		From: []string{"internal/httpapi"}, Deny: []string{"@store"}, Direct: true,
		Why: "the REST edge decodes, calls one service and encodes: authorisation and store reads are the services' (issue 14), " +
			"so it names store values only through the services' aliases",
	},
	{
		From: []string{"internal/est"},
		Deny: []string{"@services", "@store", "@keys", "internal/device"},
		Why:  "EST is a protocol adapter that declares the one interface it needs (Enroller) and knows no service",
	},
	{
		From: []string{"internal/brski"},
		Deny: []string{"@services", "@store", "@keys", "internal/device"},
		Why:  "BRSKI's endpoints are a protocol adapter like EST: they declare the interfaces they need (Registrar, MASA) and know no service",
	},
	{
		From: []string{"internal/metrics"},
		Deny: []string{"internal/httpapi", "internal/est", "internal/status", "@keys"},
		Why:  "the metrics adapter reads services through accessors; it serves nothing else",
	},
	{
		From: []string{"@core", "@store", "@stores", "@storetest", "@services", "@keys", "@config", "@client", "@device", "@tools",
			"internal/httpapi", "internal/est", "internal/status", "internal/admission"},
		Deny: []string{prometheus},
		Why:  "only internal/metrics (and the wiring above it) speaks Prometheus",
	},
	{
		From: []string{"@config"},
		Deny: with(wiring, []string{"@client", "@device", "@tools", "@adapters", "@store", "@stores", "@keys", "@services"}),
		Why:  "configuration is decoded and validated before anything is built from it",
	},
	{
		From: []string{"@client"},
		Deny: with(wiring, []string{"database/sql/...", "@config", "@device", "@tools", "@adapters", "@stores", "@storetest", "internal/keys/file", prometheus}),
		Why:  "the client speaks HTTP to a server; it never links the server, opens a database or serves",
	},
	{
		From: []string{"@client"},
		Deny: []string{"@services", "@core", "github.com/zmap/...", "cel.dev/...", "github.com/google/cel-go/..."},
		Why:  "the client carries the API's wire types (package api), not the services behind them (nor what they link: zlint, CEL)",
	},
	{
		From: []string{"@client"},
		Deny: []string{"@store"},
		Why:  "the client's types are the API's, not the storage contract's",
	},
	{
		From: []string{"@wire"},
		Deny: with(wiring, []string{"@core", "@services", "@store", "@stores", "@storetest", "@keys", "@config", "@client", "@device", "@tools", "@adapters",
			"github.com/...", "golang.org/...", "cel.dev/...", "modernc.org/...", "go.step.sm/..."}),
		Why: "the wire types are public and plain: the standard library only, so any Go program can import them",
	},
	{
		From: []string{"api/proof"},
		Deny: []string{"net/http/...", "api"},
		Why:  "the services build the proof message too, and they know no HTTP",
	},
	{
		From: []string{"@device"},
		Deny: with(wiring, []string{"database/sql/...", "@config", "@client", "@tools", "@store", "@stores", "@storetest", "@services",
			"internal/httpapi", "internal/status", "internal/metrics", "internal/admission"}),
		Why: "the device side knows the server only through EST",
	},
	{
		From: []string{"@tools"},
		Deny: with(wiring, []string{"database/sql/...", "@config", "@stores", "@storetest", "internal/keys/file",
			"internal/httpapi", "internal/status", "internal/metrics", "internal/admission"}),
		Why: "the simulator drives a server from outside, through its REST API and EST (internal/agent, internal/est)",
	},
	{
		From: []string{"@tools"},
		Deny: []string{"@services", "@store"},
		Why:  "the simulator uses the client's wire types, not the services behind them",
	},
	{
		From:   []string{"@instrument"},
		Deny:   []string{"@entry", "@cli", "@app", "@client", "@device", "@tools", "@services", "@testkit", "@test", "internal/readcache", "internal/keys/..."},
		Direct: true,
		Why: "the floor does only the work the guarantees require, with the packages that do it (core, the SQLite settings, " +
			"httpapi's request decoder, est's TLS filter); it calls no service, cache or key provider, whose work is what it leaves out " +
			"(httpapi reaches the services, which the floor does not call: hence Direct)",
	},
	{
		From: []string{"@app"},
		Deny: []string{"@entry", "@cli", "@client", "@device", "@tools", "@test"},
		// The console is the one way in: it calls the server's own API in process (issue 19).
		Via: []string{module + "internal/console"},
		Why: "the composition root builds the server; client-side code belongs to the CLI",
	},
	{
		From: []string{"@cli"},
		Deny: []string{"@entry", "@test"},
		Why:  "the CLI is called by main, never the other way",
	},
	{
		From: []string{"@testkit"},
		Deny: []string{"internal/..."},
		Why:  "a test kit stands for an outside party (a maker running openssl): it links nothing of the server it is used to test",
	},
	{
		From: []string{"@entry", "@cli", "@app", "@config", "@wire", "@client", "@device", "@tools", "@adapters", "@store", "@stores", "@keys", "@services", "@core"},
		Deny: []string{"@testkit"},
		Why:  "test kits are for tests: nothing that ships links them",
	},
	{
		From: []string{"@test"},
		Deny: []string{"internal/..."},
		Why:  "deptest only reads `go list`; it links nothing it checks",
	},
}

// pkg is what TestDependencies reads of `go list -deps -json`.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

func TestDependencies(t *testing.T) {
	all, ours := list(t)
	for _, p := range ours {
		if _, ok := layers[rel(p)]; !ok {
			t.Errorf("%s is not classified: add it to layers in internal/deptest/deps_test.go (and a rule if its layer has none that fits)", rel(p))
		}
	}
	for name := range layers {
		if _, ok := all[module+name]; !ok {
			t.Errorf("layers names %s, which is not a package of the module: remove it", name)
		}
	}
	known := map[string]bool{}
	for _, l := range layers {
		known[l] = true
	}
	for i, r := range rules {
		if r.Why == "" {
			t.Errorf("rule %d (%v) says no why", i, r.From)
		}
		for _, n := range slices.Concat(r.From, r.Deny) {
			if l, ok := strings.CutPrefix(n, "@"); ok && !known[l] {
				t.Errorf("rule %d names layer %q, which no package is in", i, l)
			}
		}
	}
	ruled := map[string]bool{"entry": true} // main may reach anything: it is the top
	for _, r := range rules {
		for _, n := range r.From {
			ruled[strings.TrimPrefix(n, "@")] = true
		}
	}
	for l := range known {
		if !ruled[l] {
			t.Errorf("layer %s has no rule: say what it may not depend on", l)
		}
	}
	for _, p := range ours {
		for _, r := range rules {
			if !matchesAny(p, r.From) {
				continue
			}
			for _, v := range violations(all, p, r) {
				msg := strings.Join(v, " → ") + ": " + r.Why
				if r.Pending != "" {
					t.Logf("pending (%s): %s", r.Pending, msg)
				} else {
					t.Error(msg)
				}
			}
		}
	}
}

// violations returns, for each denied package p reaches under r, the shortest import chain to
// it (trimmed of the module prefix); under a Direct rule, each denied package p imports. The walk neither passes through r.Via nor goes beyond a
// denied package, so a denied package reached only through another is reported once, as the
// one it was reached through.
func violations(all map[string]*pkg, p *pkg, r rule) [][]string {
	if r.Direct {
		var out [][]string
		for _, next := range p.Imports {
			if matchesAny(all[next], r.Deny) {
				out = append(out, []string{rel(p), strings.TrimPrefix(next, module)})
			}
		}
		return out
	}
	if !slices.ContainsFunc(p.Deps, func(d string) bool { return matchesAny(all[d], r.Deny) }) {
		return nil // the closure holds nothing denied; no need to walk
	}
	from := map[string]string{p.ImportPath: ""}
	queue := []string{p.ImportPath}
	var out [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range all[cur].Imports {
			if _, seen := from[next]; seen || all[next] == nil || slices.Contains(r.Via, next) {
				continue // all lacks only the cgo pseudo-package "C"
			}
			from[next] = cur
			if matchesAny(all[next], r.Deny) {
				var chain []string
				for n := next; n != ""; n = from[n] {
					chain = append(chain, strings.TrimPrefix(n, module))
				}
				slices.Reverse(chain)
				out = append(out, chain)
				continue
			}
			queue = append(queue, next)
		}
	}
	return out
}

// matchesAny reports whether p is named by any of names (layers, packages or "x/..." trees).
func matchesAny(p *pkg, names []string) bool {
	if p == nil {
		return false
	}
	for _, n := range names {
		if l, ok := strings.CutPrefix(n, "@"); ok {
			if got, ours := layers[rel(p)]; ours && strings.HasPrefix(p.ImportPath, module) && got == l {
				return true
			}
			continue
		}
		if strings.HasPrefix(n, "internal/") {
			n = module + n
		}
		if tree, ok := strings.CutSuffix(n, "/..."); ok {
			if p.ImportPath == tree || strings.HasPrefix(p.ImportPath, tree+"/") {
				return true
			}
		} else if p.ImportPath == n {
			return true
		}
	}
	return false
}

func rel(p *pkg) string { return strings.TrimPrefix(p.ImportPath, module) }

// list runs `go list -deps -json ./...` at the module root: every package of the module and
// everything they depend on, by import path, and the module's own packages, sorted.
func list(t *testing.T) (map[string]*pkg, []*pkg) {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = strings.TrimSuffix(strings.TrimSpace(string(gomod)), "/go.mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	all := map[string]*pkg{}
	var ours []*pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		all[p.ImportPath] = p
		if strings.HasPrefix(p.ImportPath, module) {
			ours = append(ours, p)
		}
	}
	sort.Slice(ours, func(i, j int) bool { return ours[i].ImportPath < ours[j].ImportPath })
	if len(ours) < 20 {
		t.Fatalf("go list found %d packages of %s; is the module path right?", len(ours), module)
	}
	return all, ours
}
