package issuance

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/oid"
)

// UndefinedNotAfter is the notAfter IEEE 802.1AR-2018 section 8.5 gives an IDevID that has
// "no well-defined expiration date": 99991231235959Z, the GeneralizedTime RFC 5280 section
// 4.1.2.5 reserves for it. It is the one notAfter a factory certificate may carry beyond its
// issuer's (Issuer.Prepare).
var UndefinedNotAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// FactoryParams are the inputs of FactoryTemplate.
type FactoryParams struct {
	DeviceSerial      string // the device's serial number; PrintableString alphabet, 1 to 64 characters
	Organization      string // the manufacturer
	HardwareType      asn1.ObjectIdentifier
	BuildRecordDigest [32]byte // SHA-256 of the signed build record's payload
	PublicKey         crypto.PublicKey
	NotBefore         time.Time
	NotAfter          time.Time // the issuer's notAfter, or UndefinedNotAfter (802.1AR: "no well-defined expiration")
	// OCSPServer and CRLDistributionPoints, when given, become the AIA id-ad-ocsp and CRL
	// distribution point extensions (http or https URLs).
	OCSPServer            []string
	CRLDistributionPoints []string
	// MASAURL, when given, becomes the id-pe-masa-url extension (RFC 8995 section 2.3.2): an
	// https URL or a bare authority (host[:port][/path]), printable ASCII, at most 255 bytes.
	MASAURL string
}

// FactoryTemplate returns the template of a factory (IEEE 802.1AR IDevID) certificate:
// subject serialNumber and CN = DeviceSerial, O = Organization; a non-critical SAN holding one
// otherName hardwareModuleName (RFC 4108 section 5) of HardwareType and DeviceSerial; the
// build record digest extension (oid.BuildRecordDigest); keyUsage critical digitalSignature;
// EKU clientAuth, so the device can authenticate to EST over TLS with it; AIA OCSP and CRL
// distribution points when given.
func FactoryTemplate(p FactoryParams) (*x509.Certificate, error) {
	if err := checkName("device serial", p.DeviceSerial, ubSerialNumber, true); err != nil {
		return nil, err
	}
	if !printable(p.DeviceSerial) {
		return nil, failure.New(failure.Invalid, "factory template: device serial %q has characters outside the PrintableString alphabet", p.DeviceSerial)
	}
	if err := checkName("organization", p.Organization, ubOrganization, true); err != nil {
		return nil, err
	}
	if len(p.HardwareType) < 2 {
		return nil, failure.New(failure.Invalid, "factory template: hardware type OID is required")
	}
	if p.BuildRecordDigest == ([32]byte{}) {
		return nil, failure.New(failure.Invalid, "factory template: build record digest is required")
	}
	san, err := hardwareModuleNameSAN(p.HardwareType, []byte(p.DeviceSerial))
	if err != nil {
		return nil, err
	}
	digest, err := asn1.Marshal(p.BuildRecordDigest[:])
	if err != nil {
		return nil, err
	}
	t, err := clientLeaf(p.PublicKey, p.NotBefore, p.NotAfter, p.OCSPServer, p.CRLDistributionPoints)
	if err != nil {
		return nil, err
	}
	t.Subject = pkix.Name{SerialNumber: p.DeviceSerial, Organization: []string{p.Organization}, CommonName: p.DeviceSerial}
	t.ExtraExtensions = []pkix.Extension{
		{Id: oid.ExtSubjectAltName, Value: san}, // non-critical: the subject is not empty (RFC 5280 section 4.2.1.6)
		{Id: oid.BuildRecordDigest, Value: digest},
	}
	if p.MASAURL != "" {
		ext, err := MASAURLExtension(p.MASAURL)
		if err != nil {
			return nil, err
		}
		t.ExtraExtensions = append(t.ExtraExtensions, ext)
	}
	return t, nil
}

// MASAURLExtension returns the non-critical id-pe-masa-url extension holding u as an
// IA5String (RFC 8995 section 2.3.2). u is an https URL or a bare authority with an optional
// path; anything else is failure.Invalid.
func MASAURLExtension(u string) (pkix.Extension, error) {
	if err := CheckMASAURL(u); err != nil {
		return pkix.Extension{}, err
	}
	v, err := asn1.MarshalWithParams(u, "ia5")
	if err != nil {
		return pkix.Extension{}, failure.Wrap(failure.Invalid, err, "factory template: encoding the MASA URL")
	}
	return pkix.Extension{Id: oid.MASAURL, Value: v}, nil
}

// CheckMASAURL checks a MASA URL as MASAURLExtension takes it.
func CheckMASAURL(u string) error {
	if len(u) == 0 || len(u) > 255 {
		return failure.New(failure.Invalid, "MASA URL must be 1 to 255 characters")
	}
	for i := 0; i < len(u); i++ {
		if u[i] <= ' ' || u[i] > '~' {
			return failure.New(failure.Invalid, "MASA URL %q has a character outside printable ASCII", u)
		}
	}
	rest := u
	if i := strings.Index(u, "://"); i >= 0 {
		if u[:i] != "https" {
			return failure.New(failure.Invalid, "MASA URL %q must be https (RFC 8995 section 2.3.2)", u)
		}
		rest = u[i+3:]
	}
	if host, _, _ := strings.Cut(rest, "/"); host == "" || strings.ContainsAny(host, "@?#") {
		return failure.New(failure.Invalid, "MASA URL %q names no host", u)
	}
	return nil
}

// ParseMASAURL returns the id-pe-masa-url of cert, "" when it has none.
func ParseMASAURL(cert *x509.Certificate) (string, error) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid.MASAURL) {
			var u string
			if rest, err := asn1.UnmarshalWithParams(e.Value, &u, "ia5"); err != nil || len(rest) > 0 {
				return "", failure.New(failure.Invalid, "the MASA URL extension is not an IA5String")
			}
			return u, CheckMASAURL(u)
		}
	}
	return "", nil
}

// hardwareModuleName is HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER,
// hwSerialNum OCTET STRING } (RFC 4108 section 5).
type hardwareModuleName struct {
	HWType      asn1.ObjectIdentifier
	HWSerialNum []byte
}

// otherName is AnotherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
// (RFC 5280 section 4.2.1.6). Value is the [0] wrapper itself: encoding/asn1 ignores the
// explicit tag on a RawValue with FullBytes, so it is built and checked by hand.
type otherName struct {
	TypeID asn1.ObjectIdentifier
	Value  asn1.RawValue
}

// hardwareModuleNameSAN encodes GeneralNames holding one otherName hardwareModuleName.
// crypto/x509 cannot express otherName, hence the hand encoding.
func hardwareModuleNameSAN(hwType asn1.ObjectIdentifier, serial []byte) ([]byte, error) {
	hmn, err := asn1.Marshal(hardwareModuleName{HWType: hwType, HWSerialNum: serial})
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "factory template: encoding hardwareModuleName")
	}
	on, err := asn1.Marshal(otherName{TypeID: oid.OtherNameHardwareModuleName, Value: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: hmn}})
	if err != nil {
		return nil, err
	}
	// on is a SEQUENCE; GeneralName's otherName is [0] IMPLICIT, so keep its contents under
	// a constructed context-specific tag 0.
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(on, &seq); err != nil {
		return nil, err
	}
	gn := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: seq.Bytes}
	return asn1.Marshal([]asn1.RawValue{gn})
}

// ParseHardwareModuleName returns the hwType and hwSerialNum of the first hardwareModuleName
// otherName in cert's SAN. It is an error of kind failure.Invalid when there is none.
func ParseHardwareModuleName(cert *x509.Certificate) (hwType asn1.ObjectIdentifier, serial []byte, err error) {
	ext, ok := extension(cert, oid.ExtSubjectAltName)
	if !ok {
		return nil, nil, failure.New(failure.Invalid, "certificate has no subjectAltName")
	}
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) != 0 {
		return nil, nil, failure.New(failure.Invalid, "malformed subjectAltName")
	}
	for _, gn := range names {
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 || !gn.IsCompound {
			continue
		}
		seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: gn.Bytes})
		if err != nil {
			return nil, nil, err
		}
		var on otherName
		if rest, err := asn1.Unmarshal(seq, &on); err != nil || len(rest) != 0 {
			return nil, nil, failure.New(failure.Invalid, "malformed otherName in subjectAltName")
		}
		if !on.TypeID.Equal(oid.OtherNameHardwareModuleName) {
			continue
		}
		if on.Value.Class != asn1.ClassContextSpecific || on.Value.Tag != 0 || !on.Value.IsCompound {
			return nil, nil, failure.New(failure.Invalid, "malformed otherName value in subjectAltName")
		}
		var h hardwareModuleName
		if rest, err := asn1.Unmarshal(on.Value.Bytes, &h); err != nil || len(rest) != 0 {
			return nil, nil, failure.New(failure.Invalid, "malformed hardwareModuleName")
		}
		return h.HWType, h.HWSerialNum, nil
	}
	return nil, nil, failure.New(failure.Invalid, "certificate has no hardwareModuleName otherName")
}

// BuildRecordDigestOf returns the build record digest a factory certificate carries.
func BuildRecordDigestOf(cert *x509.Certificate) ([32]byte, error) {
	var d [32]byte
	ext, ok := extension(cert, oid.BuildRecordDigest)
	if !ok {
		return d, failure.New(failure.Invalid, "certificate has no build record digest extension")
	}
	var b []byte
	if rest, err := asn1.Unmarshal(ext.Value, &b); err != nil || len(rest) != 0 || len(b) != len(d) {
		return d, failure.New(failure.Invalid, "malformed build record digest extension")
	}
	copy(d[:], b)
	return d, nil
}

// FactoryRef names the factory certificate an operational certificate was issued on. Its
// encoding is the value of the oid.FactoryIdentityRef extension:
//
//	FactoryRef ::= SEQUENCE {
//	    issuer          Name,          -- the factory certificate's issuer
//	    serialNumber    INTEGER,       -- the factory certificate's serial
//	    certificateHash OCTET STRING } -- SHA-256 of the factory certificate's DER
type FactoryRef struct {
	RawIssuer  []byte // DER of the issuer Name
	Serial     *big.Int
	CertSHA256 [32]byte
}

type factoryRefASN1 struct {
	Issuer          asn1.RawValue
	SerialNumber    *big.Int
	CertificateHash []byte
}

// NewFactoryRef returns the reference to a factory certificate.
func NewFactoryRef(factory *x509.Certificate) FactoryRef {
	return FactoryRef{RawIssuer: bytes.Clone(factory.RawIssuer), Serial: new(big.Int).Set(factory.SerialNumber), CertSHA256: sha256.Sum256(factory.Raw)}
}

// Matches reports whether r names cert.
func (r FactoryRef) Matches(cert *x509.Certificate) bool {
	return r.Serial != nil && bytes.Equal(r.RawIssuer, cert.RawIssuer) && r.Serial.Cmp(cert.SerialNumber) == 0 && r.CertSHA256 == sha256.Sum256(cert.Raw)
}

func (r FactoryRef) marshal() ([]byte, error) {
	var name pkix.RDNSequence
	if rest, err := asn1.Unmarshal(r.RawIssuer, &name); err != nil || len(rest) != 0 || len(name) == 0 {
		return nil, failure.New(failure.Invalid, "factory reference: issuer is not a DER Name")
	}
	if r.Serial == nil || r.Serial.Sign() <= 0 {
		return nil, failure.New(failure.Invalid, "factory reference: serial must be positive")
	}
	return asn1.Marshal(factoryRefASN1{Issuer: asn1.RawValue{FullBytes: r.RawIssuer}, SerialNumber: r.Serial, CertificateHash: r.CertSHA256[:]})
}

// FactoryRefOf returns the factory reference an operational certificate carries; ok is false
// when it carries none. A malformed reference is an error of kind failure.Invalid.
func FactoryRefOf(cert *x509.Certificate) (ref FactoryRef, ok bool, err error) {
	ext, found := extension(cert, oid.FactoryIdentityRef)
	if !found {
		return FactoryRef{}, false, nil
	}
	var v factoryRefASN1
	if rest, err := asn1.Unmarshal(ext.Value, &v); err != nil || len(rest) != 0 {
		return FactoryRef{}, false, failure.New(failure.Invalid, "malformed factory identity reference")
	}
	if len(v.CertificateHash) != 32 || v.Issuer.Tag != asn1.TagSequence || v.SerialNumber.Sign() <= 0 {
		return FactoryRef{}, false, failure.New(failure.Invalid, "malformed factory identity reference")
	}
	ref = FactoryRef{RawIssuer: bytes.Clone(v.Issuer.FullBytes), Serial: v.SerialNumber}
	copy(ref.CertSHA256[:], v.CertificateHash)
	return ref, true, nil
}

// OperationalParams are the inputs of OperationalTemplate.
type OperationalParams struct {
	SPIFFEID              *url.URL // spiffe://<trust-domain>/env/<environment>/device/<DeviceID>
	DeviceID              string
	FactoryRef            FactoryRef
	PublicKey             crypto.PublicKey
	NotBefore             time.Time
	NotAfter              time.Time
	OCSPServer            []string // AIA id-ad-ocsp URLs (http or https)
	CRLDistributionPoints []string // http or https URLs
}

// OperationalTemplate returns the template of an operational (IEEE 802.1AR LDevID)
// certificate: subject CN = DeviceID, a SAN with exactly one URI, the SPIFFE ID (so service
// meshes accept it as an X509-SVID); keyUsage critical digitalSignature; EKU clientAuth; the
// factory identity reference extension (oid.FactoryIdentityRef); AIA OCSP and CRL
// distribution points when given.
func OperationalTemplate(p OperationalParams) (*x509.Certificate, error) {
	if err := checkName("device ID", p.DeviceID, ubCommonName, true); err != nil {
		return nil, err
	}
	if err := checkSPIFFEID(p.SPIFFEID, p.DeviceID); err != nil {
		return nil, err
	}
	ref, err := p.FactoryRef.marshal()
	if err != nil {
		return nil, err
	}
	t, err := clientLeaf(p.PublicKey, p.NotBefore, p.NotAfter, p.OCSPServer, p.CRLDistributionPoints)
	if err != nil {
		return nil, err
	}
	t.Subject = pkix.Name{CommonName: p.DeviceID}
	id := *p.SPIFFEID
	t.URIs = []*url.URL{&id}
	t.ExtraExtensions = []pkix.Extension{{Id: oid.FactoryIdentityRef, Value: ref}}
	return t, nil
}

// checkSPIFFEID enforces the SPIFFE ID rules (SPIFFE-ID specification section 2) and
// Hallmark's path shape /env/<environment>/device/<deviceID>.
func checkSPIFFEID(u *url.URL, deviceID string) error {
	if u == nil {
		return failure.New(failure.Invalid, "operational template: SPIFFE ID is required")
	}
	if u.Scheme != "spiffe" || u.Host == "" || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return failure.New(failure.Invalid, "operational template: %q is not a SPIFFE ID (spiffe://trust-domain/path)", u.String())
	}
	for _, c := range u.Host {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return failure.New(failure.Invalid, "operational template: trust domain %q must be lower-case letters, digits, '.', '-' or '_'", u.Host)
		}
	}
	seg := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if !strings.HasPrefix(u.Path, "/") || len(seg) != 4 || seg[0] != "env" || seg[2] != "device" || seg[1] == "" || seg[3] != deviceID {
		return failure.New(failure.Invalid, "operational template: SPIFFE ID path %q is not /env/<environment>/device/%s", u.Path, deviceID)
	}
	for _, s := range seg {
		for _, c := range s {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
				return failure.New(failure.Invalid, "operational template: SPIFFE ID path segment %q has a character outside [A-Za-z0-9._-]", s)
			}
		}
		if s == "." || s == ".." {
			return failure.New(failure.Invalid, "operational template: SPIFFE ID path segment %q", s)
		}
	}
	return nil
}

// clientLeaf is what every end-entity profile for a TLS client shares (factory, operational,
// support): base plus basic constraints (not a CA), keyUsage digitalSignature, EKU clientAuth,
// and the AIA OCSP and CRL distribution point URLs, each checked to be http(s).
func clientLeaf(pub crypto.PublicKey, notBefore, notAfter time.Time, ocsp, crl []string) (*x509.Certificate, error) {
	for _, u := range append(append([]string(nil), ocsp...), crl...) {
		if err := checkHTTPURL(u); err != nil {
			return nil, err
		}
	}
	t, err := base(pub, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	t.BasicConstraintsValid = true
	t.KeyUsage = x509.KeyUsageDigitalSignature
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	t.OCSPServer = append([]string(nil), ocsp...)
	t.CRLDistributionPoints = append([]string(nil), crl...)
	return t, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return failure.New(failure.Invalid, "template: %q is not an http(s) URL", s)
	}
	return nil
}

func extension(cert *x509.Certificate, id asn1.ObjectIdentifier) (pkix.Extension, bool) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(id) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}
