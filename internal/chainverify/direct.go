package chainverify

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"slices"
	"time"
)

// SignatureMemo says which certificate signatures were already found to verify, for the exact
// bytes of both certificates (sigmemo.Memo, filled by the EST listener's TLS handshake).
type SignatureMemo interface {
	// Checked reports whether child.CheckSignatureFrom(parent) returned nil for these exact
	// bytes of child and parent. It never reports a failure: false only means "not known".
	Checked(child, parent *x509.Certificate) bool
}

var (
	oidCertPolicies   = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidPolicyMappings = asn1.ObjectIdentifier{2, 5, 29, 33}
)

// direct is the path Verify takes, before crypto/x509's, for a leaf issued directly by an
// anchor whose signature on the leaf o.Signatures already holds: it returns [leaf, anchor]
// when crypto/x509 would accept that chain, or nil, and then Verify takes x509's path as
// always. It never refuses: every refusal comes from the full path, with its usual message.
//
// Why here and in this shape: x509.Certificate.Verify checks every signature of the paths it
// builds and has no way to be told that one was checked already, so skipping the signature
// needs the chain's other checks made without it. Passing the handshake's verified chain to
// the handler (through the request context) instead of a memo would not avoid that: the chain
// would still have to be checked here without its signature, and the context would have to
// be carried from tls.Config.VerifyConnection, which sees no request, through the EST
// handler to the service. So the memo carries the one fact (this signature, these bytes), and
// direct builds no path: it takes only the one-link chain [leaf, anchor], and only when
// nothing in it needs x509's path machinery; everything else is left to x509. On that chain
// x509.Verify does, besides the signature (CheckSignatureFrom, which also checks the anchor's
// CA flag and keyUsage: the memo holds its result):
//   - the issuer name match (leaf.RawIssuer equals the anchor's RawSubject): checked here;
//   - for each certificate, unhandled critical extensions and the validity period at the
//     time, and the extended key usage: checked by x509 itself, verifying each certificate
//     as its own root (Verify returns [c] without any signature). With one requested usage
//     (or anyExtendedKeyUsage) x509's nested EKU rule is exactly the rule applied to each
//     certificate alone, so direct requires that;
//   - path length: cannot fail with no intermediate;
//   - name constraints and certificate policies: direct requires that neither certificate
//     carries a name constraints, certificate policies, policy mappings, policy constraints
//     or inhibitAnyPolicy extension, under which x509's policy and constraint checks accept
//     a two-certificate chain whatever else it holds;
//   - a leaf that is itself an anchor, or a self-issued leaf (x509 would skip an anchor with
//     the leaf's own subject and key): direct leaves both to x509.
//
// The chain then goes through checkChain like any chain x509 returns. TestDirectAgrees runs
// the x509-limbo suite with every signature remembered and asserts the same answer as
// without.
func direct(leaf *x509.Certificate, o Options, anchored map[string]bool, usages []x509.ExtKeyUsage, now time.Time) []*x509.Certificate {
	if o.Signatures == nil || anchored[string(leaf.Raw)] || bytes.Equal(leaf.RawIssuer, leaf.RawSubject) ||
		len(usages) != 1 && !slices.Contains(usages, x509.ExtKeyUsageAny) || pathExtensions(leaf) {
		return nil
	}
	for _, a := range o.Anchors {
		if a == nil || len(a.Raw) == 0 || !bytes.Equal(leaf.RawIssuer, a.RawSubject) || pathExtensions(a) || !o.Signatures.Checked(leaf, a) {
			continue
		}
		if alone(leaf, now, usages) && alone(a, now, usages) {
			return []*x509.Certificate{leaf, a}
		}
	}
	return nil
}

// pathExtensions reports whether c carries an extension that x509's name constraint or
// policy processing reads.
func pathExtensions(c *x509.Certificate) bool {
	for _, id := range []asn1.ObjectIdentifier{oidNameConstraints, oidCertPolicies, oidPolicyMappings, oidPolicyConstr, oidInhibitAny} {
		if _, ok := ext(c, id); ok {
			return true
		}
	}
	return false
}

// alone reports whether x509 accepts c as its own root at now for usages: no unhandled
// critical extension, valid at now, and an extended key usage that allows usages. No
// signature is checked.
func alone(c *x509.Certificate, now time.Time, usages []x509.ExtKeyUsage) bool {
	pool := x509.NewCertPool()
	pool.AddCert(c)
	_, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: usages})
	return err == nil
}
