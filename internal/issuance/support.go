package issuance

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/oid"
)

// SupportScope is what a support certificate may reach. Its encoding is the value of the
// non-critical oid.SupportScope extension:
//
//	SupportScope ::= SEQUENCE {
//	    grant        UTF8String,               -- the support grant's ID
//	    environment  UTF8String,               -- the environment the grant is within
//	    lot          [0] IMPLICIT UTF8String OPTIONAL, -- every device of this lot in it
//	    devices      SEQUENCE OF UTF8String }  -- or these devices (empty for a lot grant)
//
// It is non-critical on purpose: a critical extension that crypto/tls and most gateways do not
// know would make them refuse the certificate outright. The authority over reach is the grant
// check API; the extension lets a gateway check offline what the grant said.
type SupportScope struct {
	GrantID       string
	EnvironmentID string
	LotID         string
	Devices       []string
}

type supportScopeASN1 struct {
	Grant       string          `asn1:"utf8"`
	Environment string          `asn1:"utf8"`
	Lot         string          `asn1:"optional,tag:0,utf8"`
	Devices     []asn1.RawValue // UTF8String each: encoding/asn1 takes no string type for slice elements
}

// MaxSupportDevices bounds the devices one support certificate names; a bigger scope is a lot.
const MaxSupportDevices = 100

func (s SupportScope) marshal() ([]byte, error) {
	if s.GrantID == "" || s.EnvironmentID == "" {
		return nil, failure.New(failure.Invalid, "support scope: grant and environment are required")
	}
	if (s.LotID == "") == (len(s.Devices) == 0) {
		return nil, failure.New(failure.Invalid, "support scope: name either a lot or devices")
	}
	if len(s.Devices) > MaxSupportDevices {
		return nil, failure.New(failure.Invalid, "support scope: at most %d devices; use a lot for more", MaxSupportDevices)
	}
	devs := make([]asn1.RawValue, len(s.Devices))
	for i, d := range s.Devices {
		if d == "" {
			return nil, failure.New(failure.Invalid, "support scope: empty device ID")
		}
		devs[i] = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(d)}
	}
	return asn1.Marshal(supportScopeASN1{Grant: s.GrantID, Environment: s.EnvironmentID, Lot: s.LotID, Devices: devs})
}

// SupportScopeOf returns the scope a support certificate carries.
func SupportScopeOf(cert *x509.Certificate) (SupportScope, error) {
	ext, ok := extension(cert, oid.SupportScope)
	if !ok {
		return SupportScope{}, failure.New(failure.Invalid, "certificate has no support scope extension")
	}
	var v supportScopeASN1
	if rest, err := asn1.Unmarshal(ext.Value, &v); err != nil || len(rest) != 0 || v.Grant == "" {
		return SupportScope{}, failure.New(failure.Invalid, "malformed support scope extension")
	}
	out := SupportScope{GrantID: v.Grant, EnvironmentID: v.Environment, LotID: v.Lot}
	for _, d := range v.Devices {
		if d.Class != asn1.ClassUniversal || d.Tag != asn1.TagUTF8String || len(d.Bytes) == 0 {
			return SupportScope{}, failure.New(failure.Invalid, "malformed support scope extension")
		}
		out.Devices = append(out.Devices, string(d.Bytes))
	}
	return out, nil
}

// SupportParams are the inputs of SupportTemplate.
type SupportParams struct {
	// SPIFFEID names the engineer: spiffe://<trust-domain>/support/<party>/<engineer>.
	SPIFFEID              *url.URL
	Engineer              string // subject CN
	Organization          string // the engineer's party
	Scope                 SupportScope
	PublicKey             crypto.PublicKey
	NotBefore, NotAfter   time.Time // the approved window
	OCSPServer            []string
	CRLDistributionPoints []string
}

// SupportTemplate returns the template of a support certificate: subject CN = the engineer,
// O = the engineer's party; a SAN with exactly one URI, the engineer's SPIFFE ID; keyUsage
// critical digitalSignature; EKU clientAuth; the support scope extension; AIA OCSP and CRL
// distribution points. Its validity is exactly the approved window.
func SupportTemplate(p SupportParams) (*x509.Certificate, error) {
	if err := checkName("engineer", p.Engineer, ubCommonName, true); err != nil {
		return nil, err
	}
	if err := checkName("organization", p.Organization, ubOrganization, true); err != nil {
		return nil, err
	}
	if err := checkSupportID(p.SPIFFEID); err != nil {
		return nil, err
	}
	scope, err := p.Scope.marshal()
	if err != nil {
		return nil, err
	}
	t, err := clientLeaf(p.PublicKey, p.NotBefore, p.NotAfter, p.OCSPServer, p.CRLDistributionPoints)
	if err != nil {
		return nil, err
	}
	t.Subject = pkix.Name{CommonName: p.Engineer, Organization: []string{p.Organization}}
	id := *p.SPIFFEID
	t.URIs = []*url.URL{&id}
	t.ExtraExtensions = []pkix.Extension{{Id: oid.SupportScope, Value: scope}}
	return t, nil
}

func checkSupportID(u *url.URL) error {
	if u == nil || u.Scheme != "spiffe" || u.Host == "" || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return failure.New(failure.Invalid, "support template: the engineer's ID must be a SPIFFE ID")
	}
	seg := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(seg) != 3 || seg[0] != "support" {
		return failure.New(failure.Invalid, "support template: SPIFFE ID path %q is not /support/<party>/<engineer>", u.Path)
	}
	for _, s := range seg {
		if s == "" || s == "." || s == ".." {
			return failure.New(failure.Invalid, "support template: SPIFFE ID path segment %q", s)
		}
		for _, c := range s {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
				return failure.New(failure.Invalid, "support template: SPIFFE ID path segment %q has a character outside [A-Za-z0-9._-]", s)
			}
		}
	}
	return nil
}
