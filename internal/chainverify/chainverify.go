// Package chainverify verifies a device's factory (IDevID) certificate chain to the
// manufacturer anchors Hallmark knows: the manufacturing roots and issuing CAs it runs, and the
// anchors registered for makers that do not run Hallmark.
//
// Path building, signatures, validity periods, basic constraints and path length, name
// constraints, policies and extended key usage nesting are crypto/x509's
// (Certificate.Verify); this package never builds paths by hand. The one exception to "x509
// checks it all" is direct.go: a leaf issued directly by an anchor whose signature on it is
// remembered (Options.Signatures) has that one-link chain checked without the signature, by
// x509 on each certificate alone, and only when nothing in it needs x509's path processing;
// it never refuses. On each chain x509 returns, it
// then applies the RFC 5280 profile rules that x509.Verify is lax about and that matter for a
// device identity (see rules.go): the leaf is not a CA, serials are positive and at most 20
// octets, key identifiers are present and agree, CA certificates carry keyCertSign, critical
// basicConstraints and a subject key identifier, only v3 certificates, and extensions whose
// criticality or shape RFC 5280 fixes. The first chain that passes every rule is returned.
//
// Invariants: the package is pure (no I/O, no clock: the time is Options.Now); every refusal
// is a failure.Invalid error whose message names the certificate and the rule; no input
// (nil, empty or odd certificates) makes it panic.
package chainverify

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Options say what a factory chain is verified against. The zero value refuses everything
// (no anchors).
type Options struct {
	// Anchors are the trust anchors: manufacturing roots and issuing CAs Hallmark runs, and
	// anchors registered for makers that do not run Hallmark. Any of them may terminate a path.
	Anchors []*x509.Certificate
	// Intermediates may be used to build a path but are not trusted on their own: those the
	// device presented (for example in its TLS handshake) and those Hallmark knows.
	Intermediates []*x509.Certificate
	// Now is the time at which every certificate of the chain must be valid. It is floored to
	// the second: certificate times have one-second resolution (RFC 5280 4.1.2.5), so a
	// certificate is valid for the whole of its notAfter second.
	Now time.Time
	// KeyUsages the leaf must allow (or the leaf has no extended key usage extension). Empty
	// means x509.ExtKeyUsageClientAuth; x509.ExtKeyUsageAny accepts any, as in
	// x509.VerifyOptions.
	KeyUsages []x509.ExtKeyUsage
	// Signatures, when set, holds signatures already checked for the exact bytes of both
	// certificates (the EST handshake's): a leaf issued directly by an anchor whose signature
	// it holds is verified without computing that signature again (direct). Every other check
	// runs as without it, and the answer is the same.
	Signatures SignatureMemo
}

// Verify verifies leaf, a device's factory certificate, to one of o.Anchors at o.Now and
// returns the chain, leaf first and anchor last. Every refusal is a failure.Invalid error
// whose message starts with "factory chain: certificate <subject> serial <hex>:" and says
// which rule the certificate breaks; the cause (for example an x509 error) is wrapped.
func Verify(leaf *x509.Certificate, o Options) ([]*x509.Certificate, error) {
	if leaf == nil || len(leaf.Raw) == 0 {
		return nil, failure.New(failure.Invalid, "factory chain: no device certificate")
	}
	roots := x509.NewCertPool()
	anchored := make(map[string]bool, len(o.Anchors))
	for _, a := range o.Anchors {
		if a != nil && len(a.Raw) > 0 {
			roots.AddCert(a)
			anchored[string(a.Raw)] = true
		}
	}
	if len(anchored) == 0 {
		return nil, failure.New(failure.Invalid, "factory chain: %s: no manufacturer anchors are registered", name(leaf))
	}
	// An intermediate that is also an anchor is left out: every path x509 could build through
	// it as an intermediate has a prefix ending at it as the anchor, which x509 builds anyway
	// and checks with a subset of the same rules (x509 does not process the anchor's policies
	// and asks less of a root than of an intermediate; checkChain treats an anchor that is not
	// self-signed like an intermediate and does not check its issuer). The result is the same
	// answer with fewer signature checks: a device that presents its issuing CA and root, both
	// registered, cost x509 four ECDSA verifications instead of one.
	inters := x509.NewCertPool()
	for _, c := range o.Intermediates {
		if c != nil && len(c.Raw) > 0 && !anchored[string(c.Raw)] {
			inters.AddCert(c)
		}
	}
	usages := o.KeyUsages
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}

	// The leaf-only rules do not depend on the path; checking them first gives the clearest
	// message (a CA certificate presented as a device certificate is refused as such, not as
	// a path problem).
	if err := checkLeaf(leaf); err != nil {
		return nil, err
	}
	now := o.Now.Truncate(time.Second)
	if chain := direct(leaf, o, anchored, usages, now); chain != nil && checkChain(chain) == nil {
		return chain, nil
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inters,
		CurrentTime:   now,
		KeyUsages:     usages,
	})
	if err != nil {
		return nil, x509Refusal(leaf, err)
	}
	var first error
	for _, chain := range chains {
		err := checkChain(chain)
		if err == nil {
			return chain, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil { // x509 returned no chain and no error; not expected
		first = failure.New(failure.Invalid, "factory chain: %s: no chain to a registered anchor", name(leaf))
	}
	return nil, first
}

// x509Refusal turns an error from x509.Certificate.Verify into a failure.Invalid that says
// what went wrong in words an operator can act on.
func x509Refusal(leaf *x509.Certificate, err error) error {
	var (
		inv     x509.CertificateInvalidError
		unknown x509.UnknownAuthorityError
		crit    x509.UnhandledCriticalExtension
		host    x509.HostnameError
		sys     x509.SystemRootsError
	)
	switch {
	case errors.As(err, &inv):
		c := inv.Cert
		if c == nil {
			c = leaf
		}
		var why string
		switch inv.Reason {
		case x509.Expired:
			why = "is expired or not yet valid at the verification time"
		case x509.NotAuthorizedToSign:
			why = "is not a CA certificate but signs another certificate of the chain"
		case x509.CANotAuthorizedForThisName, x509.CANotAuthorizedForExtKeyUsage:
			why = "constrains the chain (name constraints or extended key usage) in a way the device certificate breaks"
		case x509.TooManyIntermediates:
			why = "has a path length constraint the chain exceeds"
		case x509.IncompatibleUsage:
			why = "does not allow the required extended key usage"
		case x509.NameMismatch:
			why = "has an issuer name that does not match its issuer's subject"
		case x509.NameConstraintsWithoutSANs, x509.UnconstrainedName:
			why = "has names that the chain's name constraints cannot check"
		case x509.TooManyConstraints:
			why = "has too many name constraints to check"
		case x509.NoValidChains:
			why = "has no chain that satisfies the chain's certificate policies"
		default:
			why = "is not valid in this chain"
		}
		return failure.Wrap(failure.Invalid, err, fmt.Sprintf("factory chain: %s: %s", name(c), why))
	case errors.As(err, &unknown):
		return failure.Wrap(failure.Invalid, err, fmt.Sprintf("factory chain: %s: does not chain to a registered manufacturer anchor", name(leaf)))
	case errors.As(err, &crit):
		return failure.Wrap(failure.Invalid, err, fmt.Sprintf("factory chain: %s: a certificate of the chain has a critical extension Hallmark does not understand", name(leaf)))
	case errors.As(err, &host), errors.As(err, &sys):
		// Not reachable with the options Verify passes; kept so the message stays clear.
		return failure.Wrap(failure.Invalid, err, fmt.Sprintf("factory chain: %s: not verifiable", name(leaf)))
	default:
		return failure.Wrap(failure.Invalid, err, fmt.Sprintf("factory chain: %s: not verifiable", name(leaf)))
	}
}

// maxSubjectInMessage keeps a certificate with an absurd subject from flooding messages.
const maxSubjectInMessage = 160

// name identifies a certificate in messages: "certificate CN=...,O=... serial 1a2b".
func name(c *x509.Certificate) string {
	subj := c.Subject.String()
	if subj == "" {
		subj = "(empty subject)"
	}
	if len(subj) > maxSubjectInMessage {
		subj = subj[:maxSubjectInMessage] + "..."
	}
	serial := "(none)"
	if c.SerialNumber != nil {
		serial = fmt.Sprintf("%x", c.SerialNumber)
	}
	return fmt.Sprintf("certificate %s serial %s", subj, serial)
}
