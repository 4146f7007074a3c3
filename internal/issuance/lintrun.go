package issuance

import (
	"fmt"
	"reflect"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"
	"github.com/zmap/zlint/v3/util"
)

// certLint is one certificate lint of a profile, ready to run on any number of certificates.
//
// Linter runs each lint the way zlint's CertificateLint.Execute does (zlint v3.7.3,
// lint/base.go), step for step, less the work that does not depend on the certificate.
// Execute builds a new instance of the lint for every certificate and, if the lint is
// configurable (lint.Configurable), deserialises the registry's TOML configuration into it
// through reflection, every time for the same answer, since the configuration is the
// profile's and fixed. Hallmark's is empty, so that is cheap: 0.22 µs per certificate for
// the factory profile's 2 configurable lints and 1.3 µs for tls-server's 8 (the CA/Browser
// Forum lints also resolve a higher-scoped section), against a BenchmarkLint of 170 and
// 220 µs; a configuration with sections would cost more. NewLinter
// configures each configurable lint once, into proto, and a certificate gets a shallow copy
// of proto (0.07 and 0.28 µs): an instance of its own, so that no lint's fields are shared
// between goroutines, with the configuration already applied. The other lints are built by
// their constructor, as Execute builds them; most have no fields, and a zero-size value does
// not allocate.
//
// The results are the same (TestLintMatchesZlint, TestCertLintRunMatchesExecute): the same
// lints, the same framework filter, CheckApplies, CheckEffective and Execute in Execute's
// order, the same Fatal result with Execute's details for a lint that panics. The one
// difference is when configuring fails: Execute gives a Fatal result on every certificate,
// NewLinter fails.
type certLint struct {
	*lint.CertificateLint
	// proto is the configured instance of a configurable lint, a pointer to a struct;
	// nil for a lint that is not configurable.
	proto lint.CertificateLintInterface
	// protoValue is what proto points at, the value a copy is made from.
	protoValue reflect.Value
}

// naResult and neResult are the results of lints that do not apply and of lints not in
// effect. Execute allocates a new one each time, and a LintResult is 144 bytes (it has room
// for the lint's metadata); most lints do not apply to a given certificate (75 of the 149
// of the factory profile, 188 of the 310 of tls-server, on clean certificates), so that was
// 10.6 KiB and 26 KiB per certificate, and with the garbage collection it brings the larger
// part of what this file saves: BenchmarkLint 8.5% and 15% faster, 19% and 30% fewer bytes.
// lint reads only Status and Details, so one of each, never changed, serves every lint and
// certificate.
var (
	naResult = &lint.LintResult{Status: lint.NA}
	neResult = &lint.LintResult{Status: lint.NE}
)

// newCertLint prepares cl to run under conf: if its instance is configurable, it builds
// and configures the prototype, and fails naming the lint if the configuration does not
// apply or the lint panics on it.
func newCertLint(cl *lint.CertificateLint, conf lint.Configuration) (ret certLint, err error) {
	ret = certLint{CertificateLint: cl}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("lint %s panicked while being configured: %v", cl.Name, r)
		}
	}()
	inst := cl.Lint()
	if _, ok := inst.(lint.Configurable); !ok {
		return ret, nil
	}
	if err := conf.MaybeConfigure(inst, cl.Name); err != nil {
		return ret, fmt.Errorf("lint %s: %w", cl.Name, err)
	}
	v := reflect.ValueOf(inst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		// Not a shape a copy can be made of. Every configurable lint of zlint v3.7.3 is a
		// pointer to a struct: a configuration is deserialised through a pointer.
		return ret, fmt.Errorf("lint %s: configurable lint of type %T, not a pointer to a struct", cl.Name, inst)
	}
	ret.proto, ret.protoValue = inst, v.Elem()
	return ret, nil
}

// instance returns the lint's implementation for one certificate: a shallow copy of the
// configured prototype, or what the constructor builds.
func (cl *certLint) instance() lint.CertificateLintInterface {
	if cl.proto == nil {
		return cl.Lint()
	}
	p := reflect.New(cl.protoValue.Type())
	p.Elem().Set(cl.protoValue)
	return p.Interface().(lint.CertificateLintInterface)
}

// run is zlint's CertificateLint.Execute with the instance from instance. Its result must
// not be changed: naResult and neResult are shared.
func (cl *certLint) run(c *zx509.Certificate) (result *lint.LintResult) {
	defer func() {
		if err := recover(); err != nil {
			result = &lint.LintResult{Status: lint.Fatal, Details: fmt.Sprintf("'%s' panicked. Error: %v", cl.Name, err)}
		}
	}()
	if !cl.OverrideFrameworkFilter {
		if cl.Source == lint.CABFBaselineRequirements && !util.IsServerAuthCert(c) {
			return naResult
		}
		if cl.Source == lint.CABFSMIMEBaselineRequirements && !util.IsEmailProtectionCert(c) {
			return naResult
		}
		if cl.Source == lint.CABFCSBaselineRequirements && !util.IsCodeSigning(c.PolicyIdentifiers) {
			return naResult
		}
	}
	l := cl.instance()
	if !l.CheckApplies(c) {
		return naResult
	} else if !cl.CheckEffective(c) {
		return neResult
	}
	return l.Execute(c)
}
