package issuance

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// Profile names a certificate profile: which template builder made the certificate and which
// lints apply to it.
type Profile string

// The profiles.
const (
	ProfileRootCA        Profile = "root-ca"        // self-signed root of a hierarchy
	ProfileIssuingCA     Profile = "issuing-ca"     // issuing CA under a root
	ProfileFactory       Profile = "factory"        // IEEE 802.1AR IDevID
	ProfileOperational   Profile = "operational"    // IEEE 802.1AR LDevID, SPIFFE-compatible
	ProfileTLSServer     Profile = "tls-server"     // Hallmark's own HTTPS and EST listeners
	ProfileOCSPResponder Profile = "ocsp-responder" // delegated OCSP signer (RFC 6960 section 4.2.2.2)
	ProfileSupport       Profile = "support"        // a vendor engineer's time-bound access to devices
	ProfileCrossCA       Profile = "cross-ca"       // another root's name and key, certified by this root (rollover)
)

// Profiles lists every profile.
var Profiles = []Profile{ProfileRootCA, ProfileIssuingCA, ProfileFactory, ProfileOperational, ProfileTLSServer, ProfileOCSPResponder, ProfileSupport, ProfileCrossCA}

// IsCA reports whether certificates of the profile are CA certificates.
func (p Profile) IsCA() bool {
	return p == ProfileRootCA || p == ProfileIssuingCA || p == ProfileCrossCA
}

func (p Profile) known() bool {
	for _, q := range Profiles {
		if p == q {
			return true
		}
	}
	return false
}

// Upper bounds from RFC 5280 appendix A.1.
const (
	ubCommonName   = 64
	ubOrganization = 64
	ubSerialNumber = 64
)

// idPKIXOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1).
var idPKIXOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// CAParams are the inputs of CATemplate.
type CAParams struct {
	Profile      Profile // ProfileRootCA or ProfileIssuingCA
	CommonName   string
	Organization string
	PublicKey    crypto.PublicKey
	NotBefore    time.Time
	NotAfter     time.Time
	// MaxPathLen is the pathLenConstraint: -1 leaves it out (unconstrained), 0 or more sets it.
	// The zero value, 0, is what an issuing CA that signs only end entities wants.
	MaxPathLen int
	// OCSPServer, IssuingCertificateURL and CRLDistributionPoints, for an issuing CA only,
	// become its AIA (id-ad-ocsp, id-ad-caIssuers) and CRL distribution point extensions:
	// where the root that signs it publishes its status and its own certificate, so that a
	// relying party can check the whole chain (RFC 5280 sections 4.2.1.13 and 4.2.2.1).
	// http or https URLs; a root takes none.
	OCSPServer            []string
	IssuingCertificateURL []string
	CRLDistributionPoints []string
}

// CATemplate returns the template of a root or issuing CA certificate: basicConstraints
// critical CA:TRUE, keyUsage critical keyCertSign, cRLSign and digitalSignature (the last so
// the CA key may sign OCSP responses directly), and an explicit subject key identifier; for
// an issuing CA, AIA and CRL distribution points when given.
func CATemplate(p CAParams) (*x509.Certificate, error) {
	if !p.Profile.IsCA() {
		return nil, failure.New(failure.Invalid, "CA template: profile %q is not a CA profile", p.Profile)
	}
	urls := slices.Concat(p.OCSPServer, p.IssuingCertificateURL, p.CRLDistributionPoints)
	if p.Profile == ProfileRootCA && len(urls) > 0 {
		return nil, failure.New(failure.Invalid, "CA template: a self-signed root carries no AIA or CRL distribution point")
	}
	for _, u := range urls {
		if err := checkHTTPURL(u); err != nil {
			return nil, err
		}
	}
	if err := checkName("common name", p.CommonName, ubCommonName, true); err != nil {
		return nil, err
	}
	if err := checkName("organization", p.Organization, ubOrganization, false); err != nil {
		return nil, err
	}
	if p.MaxPathLen < -1 {
		return nil, failure.New(failure.Invalid, "CA template: MaxPathLen %d; use -1 for unconstrained", p.MaxPathLen)
	}
	t, err := base(p.PublicKey, p.NotBefore, p.NotAfter)
	if err != nil {
		return nil, err
	}
	t.Subject = subject(p.CommonName, p.Organization)
	t.BasicConstraintsValid = true
	t.IsCA = true
	t.MaxPathLen = p.MaxPathLen
	t.MaxPathLenZero = p.MaxPathLen == 0
	t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	t.OCSPServer = slices.Clone(p.OCSPServer)
	t.IssuingCertificateURL = slices.Clone(p.IssuingCertificateURL)
	t.CRLDistributionPoints = slices.Clone(p.CRLDistributionPoints)
	if p.Profile == ProfileRootCA {
		// RFC 5280 section 4.2.1.1 lets a self-signed root omit the AKI, but zlint wants
		// its keyIdentifier; crypto/x509 copies the parent's SKID for every other issuer.
		t.AuthorityKeyId = t.SubjectKeyId
	}
	return t, nil
}

// TLSServerParams are the inputs of TLSServerTemplate.
type TLSServerParams struct {
	DNSNames    []string
	IPAddresses []net.IP
	PublicKey   crypto.PublicKey
	NotBefore   time.Time
	NotAfter    time.Time
}

// TLSServerTemplate returns the template of a certificate for Hallmark's own HTTPS and EST
// listeners: empty subject, critical SAN with the names given, EKU serverAuth, keyUsage
// digitalSignature. It keeps the subject key identifier: RFC 5280 asks for it, the BR
// recommend against it; zlint warns either way (w_ext_subject_key_identifier_*).
func TLSServerTemplate(p TLSServerParams) (*x509.Certificate, error) {
	if len(p.DNSNames) == 0 && len(p.IPAddresses) == 0 {
		return nil, failure.New(failure.Invalid, "TLS server template: no DNS name and no IP address")
	}
	for _, n := range p.DNSNames {
		if !validDNSName(n) {
			return nil, failure.New(failure.Invalid, "TLS server template: %q is not a DNS name", n)
		}
	}
	for _, ip := range p.IPAddresses {
		if ip.To4() == nil && ip.To16() == nil {
			return nil, failure.New(failure.Invalid, "TLS server template: malformed IP address %v", []byte(ip))
		}
	}
	t, err := base(p.PublicKey, p.NotBefore, p.NotAfter)
	if err != nil {
		return nil, err
	}
	t.DNSNames = append([]string(nil), p.DNSNames...)
	t.IPAddresses = append([]net.IP(nil), p.IPAddresses...)
	t.BasicConstraintsValid = true
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	return t, nil
}

// OCSPResponderParams are the inputs of OCSPResponderTemplate.
type OCSPResponderParams struct {
	CommonName   string
	Organization string
	PublicKey    crypto.PublicKey
	NotBefore    time.Time
	NotAfter     time.Time
}

// OCSPResponderTemplate returns the template of a delegated OCSP responder certificate (RFC
// 6960 section 4.2.2.2): EKU id-kp-OCSPSigning, id-pkix-ocsp-nocheck, keyUsage
// digitalSignature. Its lifetime should be short, since nothing can revoke it.
func OCSPResponderTemplate(p OCSPResponderParams) (*x509.Certificate, error) {
	if err := checkName("common name", p.CommonName, ubCommonName, true); err != nil {
		return nil, err
	}
	if err := checkName("organization", p.Organization, ubOrganization, false); err != nil {
		return nil, err
	}
	t, err := base(p.PublicKey, p.NotBefore, p.NotAfter)
	if err != nil {
		return nil, err
	}
	t.Subject = subject(p.CommonName, p.Organization)
	t.BasicConstraintsValid = true
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: idPKIXOCSPNoCheck, Value: asn1.NullBytes})
	return t, nil
}

// base checks what every template shares and returns a template with the public key,
// validity and subject key identifier set.
func base(pub crypto.PublicKey, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	if err := csr.CheckKey(pub); err != nil {
		return nil, err
	}
	if notBefore.IsZero() || notAfter.IsZero() {
		return nil, failure.New(failure.Invalid, "template: NotBefore and NotAfter are required")
	}
	if !notAfter.After(notBefore) {
		return nil, failure.New(failure.Invalid, "template: NotAfter %s is not after NotBefore %s", notAfter.UTC().Format(time.RFC3339), notBefore.UTC().Format(time.RFC3339))
	}
	skid, err := SubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		PublicKey:    pub,
		NotBefore:    notBefore.UTC().Truncate(time.Second),
		NotAfter:     notAfter.UTC().Truncate(time.Second),
		SubjectKeyId: skid,
	}, nil
}

// SubjectKeyID returns the key identifier of RFC 7093 section 2 method 1: the leftmost 160
// bits of the SHA-256 of the subjectPublicKey BIT STRING value.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	bits, err := csr.PublicKeyBits(pub)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "subject key identifier: unsupported public key")
	}
	h := sha256.Sum256(bits)
	return h[:20], nil
}

func subject(cn, org string) pkix.Name {
	n := pkix.Name{CommonName: cn}
	if org != "" {
		n.Organization = []string{org}
	}
	return n
}

// checkName refuses names that are empty (when required), too long, not UTF-8, or padded or
// carrying control characters, all of which zlint flags.
func checkName(what, s string, max int, required bool) error {
	if s == "" {
		if required {
			return failure.New(failure.Invalid, "template: %s is required", what)
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return failure.New(failure.Invalid, "template: %s is not UTF-8", what)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return failure.New(failure.Invalid, "template: %s has %d characters, more than %d", what, n, max)
	}
	if strings.TrimSpace(s) != s {
		return failure.New(failure.Invalid, "template: %s %q has leading or trailing space", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return failure.New(failure.Invalid, "template: %s %q contains a control character", what, s)
		}
	}
	return nil
}

// printable reports whether s uses only the PrintableString alphabet (X.680).
func printable(s string) bool {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case strings.ContainsRune(" '()+,-./:=?", r):
		default:
			return false
		}
	}
	return true
}

// validDNSName accepts LDH host names (A-labels for IDNs), without a trailing dot or wildcard.
func validDNSName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
