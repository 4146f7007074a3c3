package issuance

import (
	"fmt"
	"slices"
	"strings"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// baseSources are the zlint sources every profile is linted against: the IETF profiles and
// the community lints. The CA/Browser Forum Baseline Requirements are added only for
// profiles whose certificates carry serverAuth (see brProfiles): they govern TLS server
// certificates and say nothing sensible about device identities. Their algorithm lints stay
// on, so an Ed25519 CA cannot issue a tls-server certificate (the BR allow only RSA and
// ECDSA, and browsers and many TLS stacks cannot verify Ed25519 certificates).
var baseSources = lint.SourceList{lint.RFC3279, lint.RFC5280, lint.RFC5480, lint.RFC5891, lint.RFC8813, lint.Community}

// brProfiles are the profiles whose EKU includes serverAuth.
var brProfiles = map[Profile]bool{ProfileTLSServer: true}

// excluded lists, per profile, the lints that do not apply to Hallmark's private PKI, each
// with the reason. Keep it short: every name here is a check nobody runs.
var excluded = map[Profile][]string{
	ProfileTLSServer: {
		// Names: the listeners serve loopback and private names and addresses of the operator's
		// network, which the BR forbid because public trust cannot vouch for them.
		"e_dnsname_not_valid_tld",        // localhost, *.internal and other non-public names
		"e_ext_san_contains_reserved_ip", // 127.0.0.1, ::1, RFC 1918 addresses
		// Revocation pointers: the certificate is short-lived, its clients pin Hallmark's own
		// CA, and the listener cannot point at OCSP or CRLs it is still starting up to serve.
		"e_sub_cert_aia_missing",
		"e_missing_crl_distrib_point",
		// Policies: the BR reserved policy OIDs assert public-trust validation, which a private
		// CA must not claim, and Hallmark defines no policy of its own for listeners.
		"e_sub_cert_certificate_policies_missing",
		"e_sub_cert_cert_policy_empty",
	},
}

// allProfiles are excluded from every profile. e_cert_issued_by_compromised_emudhra_ca checks
// whether one specific public CA (eMudhra's, whose key leaked) signed the certificate by
// verifying the signature against that CA's P-384 key; Hallmark's certificates are signed by
// Hallmark's own CAs (and linted under a throwaway key), so the answer is always no, and the
// P-384 verification alone was 90% of the cost of issuing a certificate (BENCHMARKS.md).
var allProfiles = []string{"e_cert_issued_by_compromised_emudhra_ca"}

// Linter runs zlint over to-be-issued certificates with a registry filtered per profile.
// It is safe for concurrent use, and it caches the throwaway keys Prepare signs with.
type Linter struct {
	registries  map[Profile]profileLints
	crlRegistry lint.Registry // the CRL lints of baseSources (crl.go)
	throwaway   throwawayKeys
}

// profileLints are the certificate lints of a profile's registry (profileRegistry), taken once
// and prepared to run (certLint, lintrun.go). Lint runs lints itself rather than through
// zlint.LintCertificateEx, which on every call sorts the names of every lint in the registry
// (certificate, CRL and OCSP) to size a results map, 8% of the CPU of BenchmarkPrepareSign in
// a profile, for nothing Hallmark reads; and rather than through each lint's Execute, which
// builds and configures every configurable lint anew for every certificate (certLint says
// what that costs). The lints run and the result each gives are the same
// (TestLintMatchesZlint). One lint is Hallmark's own code under zlint's name:
// e_ecdsa_small_private_key, which finds the same keys with 2 elliptic-curve additions per
// key instead of 18 (smallkey.go, TestSmallKeyMatchesZlint).
type profileLints struct {
	lints []certLint
}

// NewLinter builds the per-profile registries once.
func NewLinter() (*Linter, error) {
	l := &Linter{registries: map[Profile]profileLints{}}
	for _, p := range Profiles {
		reg, err := profileRegistry(p)
		if err != nil {
			return nil, err
		}
		var pl profileLints
		for _, cl := range replaceSmallKeyLint(reg.CertificateLints().Lints()) {
			r, err := newCertLint(cl, reg.GetConfiguration())
			if err != nil {
				return nil, fmt.Errorf("lint registry for %s: %w", p, err)
			}
			pl.lints = append(pl.lints, r)
		}
		l.registries[p] = pl
	}
	var err error
	if l.crlRegistry, err = lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: baseSources}); err != nil {
		return nil, fmt.Errorf("lint registry for CRLs: %w", err)
	}
	return l, nil
}

// profileRegistry is the zlint registry of profile: baseSources, the BR for brProfiles,
// less allProfiles and excluded.
func profileRegistry(p Profile) (lint.Registry, error) {
	sources := slices.Clone(baseSources)
	if brProfiles[p] {
		sources = append(sources, lint.CABFBaselineRequirements)
	}
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: sources, ExcludeNames: append(slices.Clone(allProfiles), excluded[p]...)})
	if err != nil {
		return nil, fmt.Errorf("lint registry for %s: %w", p, err)
	}
	return reg, nil
}

// Lint runs the lints of profile over the certificate der. Any Error or Fatal result makes it
// fail with a failure.Invalid error naming every failing lint and its details; Warn results
// come back as "w_name: details", sorted by name.
func (l *Linter) Lint(profile Profile, der []byte) (warnings []string, err error) {
	_, warnings, err = l.lint(profile, der)
	return warnings, err
}

// lint is Lint that also returns the certificate as zcrypto parsed it (nil if it does not
// parse), so that prepare need not parse it a second time.
func (l *Linter) lint(profile Profile, der []byte) (c *zx509.Certificate, warnings []string, err error) {
	pl, ok := l.registries[profile]
	if !ok {
		return nil, nil, failure.New(failure.Invalid, "lint: unknown profile %q", profile)
	}
	c, err = zx509.ParseCertificate(der)
	if err != nil {
		return nil, nil, failure.Wrap(failure.Invalid, err, "lint: certificate does not parse")
	}
	var failed []string
	for i := range pl.lints {
		cl := &pl.lints[i]
		r := cl.run(c) // a lint that panics gives a Fatal result
		switch r.Status {
		case lint.Error, lint.Fatal:
			failed = append(failed, resultLine(cl.Name, r))
		case lint.Warn:
			warnings = append(warnings, resultLine(cl.Name, r))
		}
	}
	slices.Sort(warnings)
	if len(failed) > 0 {
		slices.Sort(failed)
		return c, warnings, failure.New(failure.Invalid, "lint: %s certificate fails %s", profile, strings.Join(failed, "; "))
	}
	return c, warnings, nil
}

// resultLine is "name" or "name: details".
func resultLine(name string, r *lint.LintResult) string {
	if r.Details == "" {
		return name
	}
	return name + ": " + r.Details
}
