package issuance

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
)

// TestLintConcurrent: linting certificates of every profile from many goroutines at once
// gives the results linting them one at a time gives, and leaves each configurable lint's
// prototype as NewLinter configured it. Each certificate gets its own copy of a
// prototype (certLint.instance); under -race a lint that wrote to a shared instance would
// be reported here.
func TestLintConcurrent(t *testing.T) {
	l := linter(t)
	certs := lintTestCerts(t)
	type job struct {
		name    string
		profile Profile
	}
	var jobs []job
	result := func(j job) string {
		warn, err := l.Lint(j.profile, certs[j.name].Raw)
		return fmt.Sprintf("warnings %q, error %v", warn, err)
	}
	want := map[job]string{}
	for name := range certs {
		for _, p := range Profiles {
			j := job{name, p}
			jobs = append(jobs, j)
			want[j] = result(j)
		}
	}

	const goroutines = 8
	var wg sync.WaitGroup
	errs := make(chan string, goroutines*len(jobs))
	for g := range goroutines {
		wg.Go(func() {
			for k := range jobs { // each goroutine from its own place in the list
				j := jobs[(k+g*len(jobs)/goroutines)%len(jobs)]
				if got, w := result(j), want[j]; got != w {
					errs <- fmt.Sprintf("%s as %s: concurrently %s, sequentially %s", j.name, j.profile, got, w)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	// The prototypes are as a fresh configuration makes them.
	for _, p := range Profiles {
		reg, err := profileRegistry(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.registries[p].lints {
			cl := &l.registries[p].lints[i]
			if cl.proto == nil {
				continue
			}
			fresh, err := newCertLint(cl.CertificateLint, reg.GetConfiguration())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cl.proto, fresh.proto) {
				t.Errorf("%s %s: prototype %+v after linting, configured %+v", p, cl.Name, cl.proto, fresh.proto)
			}
		}
	}
}

// TestCertLintInstance: a configurable lint's instance is a copy of its prototype, of the
// same type and value, never the prototype itself nor another certificate's copy; a lint
// that is not configurable is built by its constructor. A configuration that does not fit
// a lint makes newCertLint fail naming the lint.
func TestCertLintInstance(t *testing.T) {
	l := linter(t)
	var configurable, plain int
	for i := range l.registries[ProfileTLSServer].lints {
		cl := &l.registries[ProfileTLSServer].lints[i]
		a, b := cl.instance(), cl.instance()
		if cl.proto == nil {
			if _, ok := cl.Lint().(lint.Configurable); ok {
				t.Errorf("%s: configurable, without a prototype", cl.Name)
			}
			if reflect.TypeOf(a) != reflect.TypeOf(cl.Lint()) {
				t.Errorf("%s: instance %T, constructor %T", cl.Name, a, cl.Lint())
			}
			plain++
			continue
		}
		configurable++
		if reflect.TypeOf(a) != reflect.TypeOf(cl.proto) || !reflect.DeepEqual(a, cl.proto) || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: instance %#v, prototype %#v", cl.Name, a, cl.proto)
		}
		pa, pb, pp := reflect.ValueOf(a).Pointer(), reflect.ValueOf(b).Pointer(), reflect.ValueOf(cl.proto).Pointer()
		if pa == pp || pb == pp || pa == pb {
			t.Errorf("%s: instances share memory with each other or with the prototype", cl.Name)
		}
	}
	if configurable == 0 || plain == 0 {
		t.Errorf("tls-server: %d configurable lints, %d others", configurable, plain)
	}

	conf, err := lint.NewConfigFromString("[e_rsa_fermat_factorization]\nRounds = \"many\"\n")
	if err != nil {
		t.Fatal(err)
	}
	fermat := lint.GlobalRegistry().CertificateLints().ByName("e_rsa_fermat_factorization")
	if _, err := newCertLint(fermat, conf); err == nil {
		t.Error("newCertLint accepts a string for Rounds")
	} else if !strings.HasPrefix(err.Error(), "lint e_rsa_fermat_factorization: ") {
		t.Errorf("newCertLint: %v", err)
	}
}

// TestCertLintRunMatchesExecute: certLint.run gives, lint by lint, the status and details
// zlint's CertificateLint.Execute gives under the profile's configuration, NA and NE
// included, for every lint of every profile on the certificates of lintTestCerts; and for
// made-up lints that exercise the rest of Execute: the framework filter of each CA/Browser
// Forum source and its override, effective and ineffective dates, and panics in
// CheckApplies and in Execute.
func TestCertLintRunMatchesExecute(t *testing.T) {
	l := linter(t)
	certs := lintTestCerts(t)
	zcerts := map[string]*zx509.Certificate{}
	for name, c := range certs {
		zc, err := zx509.ParseCertificate(c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		zcerts[name] = zc
	}
	seen := map[lint.LintStatus]bool{}
	compare := func(what string, cl *certLint, conf lint.Configuration) {
		for name, zc := range zcerts {
			got, want := cl.run(zc), cl.CertificateLint.Execute(zc, conf)
			seen[want.Status] = true
			if got.Status != want.Status || got.Details != want.Details {
				t.Errorf("%s %s on %s: %v %q, zlint gives %v %q", what, cl.Name, name, got.Status, got.Details, want.Status, want.Details)
			}
		}
	}
	for _, p := range Profiles {
		reg, err := profileRegistry(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range l.registries[p].lints {
			compare(string(p), &l.registries[p].lints[i], reg.GetConfiguration())
		}
	}

	conf := lint.NewEmptyConfig()
	for _, meta := range []lint.LintMetadata{
		{Name: "e_test_community", Source: lint.Community},
		{Name: "e_test_br", Source: lint.CABFBaselineRequirements},
		{Name: "e_test_br_override", Source: lint.CABFBaselineRequirements, OverrideFrameworkFilter: true},
		{Name: "e_test_smime", Source: lint.CABFSMIMEBaselineRequirements},
		{Name: "e_test_cs", Source: lint.CABFCSBaselineRequirements},
		{Name: "e_test_future", Source: lint.Community, EffectiveDate: now.AddDate(50, 0, 0)},
		{Name: "e_test_past", Source: lint.Community, IneffectiveDate: now.AddDate(-50, 0, 0)},
	} {
		for _, impl := range []testLint{{}, {configurable: true}, {panicApplies: true}, {panicExecute: true}, {configurable: true, panicExecute: true}} {
			cl := &lint.CertificateLint{LintMetadata: meta, Lint: func() lint.CertificateLintInterface {
				if impl.configurable {
					return &testConfigurableLint{impl}
				}
				x := impl
				return &x
			}}
			r, err := newCertLint(cl, conf)
			if err != nil {
				t.Fatal(err)
			}
			if (r.proto != nil) != impl.configurable {
				t.Fatalf("%s %+v: prototype %v", meta.Name, impl, r.proto)
			}
			compare(fmt.Sprintf("%+v", impl), &r, conf)
		}
	}
	for _, s := range []lint.LintStatus{lint.NA, lint.NE, lint.Pass, lint.Warn, lint.Error, lint.Fatal} {
		if !seen[s] {
			t.Errorf("no lint gives %v: the comparison does not cover it", s)
		}
	}
}

// testLint passes, warns on CA certificates, or panics where told.
type testLint struct{ configurable, panicApplies, panicExecute bool }

func (l *testLint) CheckApplies(c *zx509.Certificate) bool {
	if l.panicApplies {
		panic("applies")
	}
	return true
}

func (l *testLint) Execute(c *zx509.Certificate) *lint.LintResult {
	if l.panicExecute {
		var m map[string]int
		m["x"]++ // a runtime error, as a lint's bug would give
	}
	if c.IsCA {
		return &lint.LintResult{Status: lint.Warn, Details: "a CA"}
	}
	return &lint.LintResult{Status: lint.Pass}
}

// testConfigurableLint is testLint, configurable.
type testConfigurableLint struct{ testLint }

func (l *testConfigurableLint) Configure() any { return l }

// BenchmarkLint measures Linter.Lint alone (parse and the profile's lints) over a clean
// certificate of the factory profile (2 configurable lints) and of tls-server (8, with the
// CA/Browser Forum lints).
func BenchmarkLint(b *testing.B) {
	h := newHierarchy(b, "ecdsa-p256")
	leaves := h.leaves(b, "ecdsa-p256")
	l := linter(b)
	for _, p := range []Profile{ProfileFactory, ProfileTLSServer} {
		der := leaves[p].Raw
		b.Run(string(p), func(b *testing.B) {
			for b.Loop() {
				if _, err := l.Lint(p, der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
