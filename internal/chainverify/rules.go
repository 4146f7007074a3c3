package chainverify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Extension identifiers the rules look at (RFC 5280 4.2).
var (
	oidSKI             = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKeyUsage        = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSAN             = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidBasic           = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidAKI             = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidPolicyConstr    = asn1.ObjectIdentifier{2, 5, 29, 36}
	oidEKU             = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidInhibitAny      = asn1.ObjectIdentifier{2, 5, 29, 54}
	oidAIA             = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
)

// maxNames bounds the names a device certificate may carry (subject attributes plus
// subjectAltName entries). It is not an RFC 5280 rule: it bounds the name-constraint work a
// device can make Hallmark do with the certificate it presents (limbo's pathological::nc-dos
// cases carry 2048), far above what any device identity needs.
const maxNames = 256

// emptySequence is the DER encoding of an empty SEQUENCE (and of an empty Name).
var emptySequence = []byte{0x30, 0x00}

// refuse returns the failure.Invalid error for certificate c breaking rule.
func refuse(c *x509.Certificate, format string, args ...any) error {
	return failure.New(failure.Invalid, "factory chain: %s: %s", name(c), fmt.Sprintf(format, args...))
}

// checkLeaf applies the rules for the device certificate that do not depend on the path.
func checkLeaf(c *x509.Certificate) error {
	if c.BasicConstraintsValid && c.IsCA {
		return refuse(c, "a CA certificate presented as a device certificate (basicConstraints cA is true)")
	}
	if n := len(c.Subject.Names) + len(c.DNSNames) + len(c.EmailAddresses) + len(c.IPAddresses) + len(c.URIs); n > maxNames {
		return refuse(c, "a device certificate with %d names; at most %d are accepted", n, maxNames)
	}
	if err := checkCert(c, false); err != nil {
		return err
	}
	if _, ok := ext(c, oidNameConstraints); ok {
		return refuse(c, "a device certificate with a name constraints extension (RFC 5280 4.2.1.10: only CA certificates may carry it)")
	}
	if _, ok := ext(c, oidKeyUsage); ok {
		// RFC 5280 4.2.1.3 and 4.2.1.9: keyCertSign only with cA; a device key signs, so
		// digitalSignature must be allowed.
		if c.KeyUsage&x509.KeyUsageCertSign != 0 {
			return refuse(c, "a device certificate with keyUsage keyCertSign (RFC 5280 4.2.1.9: only CA certificates may sign certificates)")
		}
		if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return refuse(c, "keyUsage is present without digitalSignature, so the device key may not sign (RFC 5280 4.2.1.3)")
		}
	}
	return nil
}

// checkChain applies the path rules to a chain x509 built (leaf first, anchor last); the
// leaf's own rules were applied by checkLeaf.
func checkChain(chain []*x509.Certificate) error {
	for i, c := range chain[1:] {
		anchor := i+2 == len(chain)
		if err := checkCert(c, anchor && selfSigned(c)); err != nil {
			return err
		}
		if err := checkCA(c); err != nil {
			return err
		}
	}
	for i, c := range chain {
		var issuer *x509.Certificate
		switch {
		case i+1 < len(chain):
			issuer = chain[i+1]
		case selfSigned(c):
			issuer = c
		default:
			continue // an anchor that is not self-signed: its issuer is not in the chain
		}
		// RFC 5280 4.2.1.1: the key identifier names the issuer's key; a mismatch means the
		// certificate claims a different issuing key than the one that verified it.
		if len(c.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, issuer.SubjectKeyId) {
			return refuse(c, "authority key identifier %x does not match the subject key identifier %x of its issuer %s (RFC 5280 4.2.1.1)",
				c.AuthorityKeyId, issuer.SubjectKeyId, name(issuer))
		}
	}
	return nil
}

// checkCert applies the rules every certificate of the chain must meet. root is true for a
// self-signed trust anchor, whose serial number is not judged: RFC 5280 6.1.1(d) takes the
// anchor as an input to path validation, not as a certificate of the path, no CRL can name
// it, and real roots have serial 0 (Starfield Root G2; limbo's online::fastly.com).
func checkCert(c *x509.Certificate, root bool) error {
	if c.Version != 3 {
		return refuse(c, "a version %d certificate; only v3 certificates are accepted (RFC 5280 4.1.2.1)", c.Version)
	}
	if !root {
		if c.SerialNumber == nil || c.SerialNumber.Sign() <= 0 {
			return refuse(c, "serial number is zero or negative; it must be a positive integer (RFC 5280 4.1.2.2)")
		}
		if n := serialOctets(c); n > 20 {
			return refuse(c, "serial number is %d octets long; at most 20 are allowed (RFC 5280 4.1.2.2)", n)
		}
	}
	if err := checkKey(c); err != nil {
		return err
	}
	if bytes.Equal(c.RawIssuer, emptySequence) {
		return refuse(c, "issuer name is empty (RFC 5280 4.1.2.4)")
	}
	if len(c.UnhandledCriticalExtensions) > 0 {
		return refuse(c, "critical extension %v is not understood (RFC 5280 4.2)", c.UnhandledCriticalExtensions[0])
	}
	for _, r := range []struct {
		oid      asn1.ObjectIdentifier
		what     string
		critical bool
		section  string
	}{
		{oidAKI, "authority key identifier", false, "4.2.1.1"},
		{oidSKI, "subject key identifier", false, "4.2.1.2"},
		{oidPolicyConstr, "policy constraints", true, "4.2.1.11"},
		{oidInhibitAny, "inhibit anyPolicy", true, "4.2.1.14"},
		{oidAIA, "authority information access", false, "4.2.2.1"},
	} {
		if e, ok := ext(c, r.oid); ok && e.Critical != r.critical {
			want := "non-critical"
			if r.critical {
				want = "critical"
			}
			return refuse(c, "the %s extension must be %s (RFC 5280 %s)", r.what, want, r.section)
		}
	}
	for _, r := range []struct {
		oid     asn1.ObjectIdentifier
		what    string
		section string
	}{
		{oidEKU, "extended key usage", "4.2.1.12"},
		{oidAIA, "authority information access", "4.2.2.1"},
		{oidNameConstraints, "name constraints", "4.2.1.10"},
	} {
		if e, ok := ext(c, r.oid); ok && bytes.Equal(e.Value, emptySequence) {
			return refuse(c, "the %s extension is an empty sequence (RFC 5280 %s)", r.what, r.section)
		}
	}
	if _, ok := ext(c, oidAKI); ok && len(c.AuthorityKeyId) == 0 {
		return refuse(c, "the authority key identifier extension has no keyIdentifier (RFC 5280 4.2.1.1)")
	}
	if !selfIssued(c) && len(c.AuthorityKeyId) == 0 {
		return refuse(c, "no authority key identifier; every certificate that is not self-issued must carry one (RFC 5280 4.2.1.1)")
	}
	if bytes.Equal(c.RawSubject, emptySequence) {
		if e, ok := ext(c, oidSAN); !ok || !e.Critical {
			return refuse(c, "subject is empty, so a critical subjectAltName extension is required (RFC 5280 4.2.1.6)")
		}
	}
	return nil
}

// checkCA applies the rules for a certificate that signs another one in the chain.
func checkCA(c *x509.Certificate) error {
	bc, ok := ext(c, oidBasic)
	if !ok || !c.BasicConstraintsValid || !c.IsCA {
		return refuse(c, "signs a certificate of the chain but basicConstraints cA is not true (RFC 5280 4.2.1.9)")
	}
	if !bc.Critical {
		return refuse(c, "a CA certificate whose basicConstraints extension is not critical (RFC 5280 4.2.1.9)")
	}
	if _, ok := ext(c, oidKeyUsage); !ok || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return refuse(c, "a CA certificate whose keyUsage does not include keyCertSign (RFC 5280 4.2.1.3)")
	}
	if len(c.SubjectKeyId) == 0 {
		return refuse(c, "a CA certificate without a subject key identifier (RFC 5280 4.2.1.2)")
	}
	if bytes.Equal(c.RawSubject, emptySequence) {
		return refuse(c, "a CA certificate with an empty subject name (RFC 5280 4.1.2.6)")
	}
	// RFC 5280 4.2.1.10: a dNSName constraint is a host name in preferred name syntax; the
	// leading period is defined only for URI and rfc822Name constraints. crypto/x509 reads
	// ".example.com" as "subdomains only", other verifiers as "example.com and subdomains".
	for _, d := range append(append([]string{}, c.PermittedDNSDomains...), c.ExcludedDNSDomains...) {
		if strings.HasPrefix(d, ".") {
			return refuse(c, "dNSName constraint %q has a leading period (RFC 5280 4.2.1.10)", d)
		}
	}
	return nil
}

// checkKey refuses public keys too weak or too odd for a device identity: RSA below 2048 bits
// or not a whole number of octets, elliptic curves other than P-256, P-384 and P-521, and any
// algorithm but RSA, ECDSA and Ed25519 (IEEE 802.1AR names RSA-2048, P-256 and P-384 for
// IDevIDs; DSA is withdrawn by FIPS 186-5).
func checkKey(c *x509.Certificate) error {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n%8 != 0 {
			return refuse(c, "RSA key of %d bits; at least 2048, in whole octets, are required", n)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		case nil:
			return refuse(c, "ECDSA key without a curve")
		default:
			return refuse(c, "ECDSA key on curve %s; P-256, P-384 or P-521 are required", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return refuse(c, "public key algorithm %v is not accepted; RSA, ECDSA or Ed25519 are", c.PublicKeyAlgorithm)
	}
	return nil
}

// ext returns c's extension with identifier id, if present.
func ext(c *x509.Certificate, id asn1.ObjectIdentifier) (e struct {
	Critical bool
	Value    []byte
}, ok bool) {
	for _, x := range c.Extensions {
		if x.Id.Equal(id) {
			e.Critical, e.Value = x.Critical, x.Value
			return e, true
		}
	}
	return e, false
}

// serialOctets is the length of the serial number's DER INTEGER contents.
func serialOctets(c *x509.Certificate) int {
	b := c.SerialNumber.Bytes()
	n := len(b)
	if n > 0 && b[0]&0x80 != 0 {
		n++ // the leading zero octet that keeps a positive INTEGER positive
	}
	return n
}

// selfIssued reports whether subject and issuer are the same name (RFC 5280 3.2).
func selfIssued(c *x509.Certificate) bool { return bytes.Equal(c.RawSubject, c.RawIssuer) }

// selfSigned reports whether c is self-issued and its signature verifies with its own key
// (whatever its basic constraints and key usage say; checkCA judges those).
func selfSigned(c *x509.Certificate) bool {
	return selfIssued(c) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
