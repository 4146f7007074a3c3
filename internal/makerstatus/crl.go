package makerstatus

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Revocation is what a source says about a revoked certificate.
type Revocation struct {
	Time time.Time
	// Reason is the RFC 5280 CRLReason code; 0 (unspecified) when the source gives none.
	Reason int
}

// crlDoc is a CRL that verified: its validity and its entries by serial.
type crlDoc struct {
	thisUpdate, nextUpdate time.Time
	number                 *big.Int // cRLNumber, nil if absent
	entries                map[string]Revocation
	// scoped is true when the CRL's issuingDistributionPoint names distribution points: it
	// then covers only certificates that name its URL (RFC 5280 6.3.3 (b)(2)(i)).
	scoped bool
	size   int // bytes of DER
}

// serialKey is a serial's map key: its sign and magnitude.
func serialKey(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() < 0 {
		return "-" + string(n.Bytes())
	}
	return string(n.Bytes())
}

// lookup returns the revocation of serial, if listed.
func (d *crlDoc) lookup(serial *big.Int) (Revocation, bool) {
	r, ok := d.entries[serialKey(serial)]
	return r, ok
}

// fresh reports whether d may be used at now.
func (d *crlDoc) fresh(now time.Time, skew time.Duration) bool {
	return !now.Before(d.thisUpdate.Add(-skew)) && !now.After(d.nextUpdate)
}

// Extension identifiers a CRL may carry (RFC 5280 5.2 and 5.3).
var (
	oidCRLNumber       = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRL        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIDP             = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidAKI             = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidReasonCode      = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidInvalidityDate  = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidCertificateIssr = asn1.ObjectIdentifier{2, 5, 29, 29}
)

// verifyCRL parses der (DER, or one PEM "X509 CRL" block) as a CRL fetched from src and
// checks it against issuer at now: issuer name and signature, extensions, scope, and
// freshness. held is the CRL already held from src (nil if none): a CRL older than it is
// Stale. Errors are *SourceError.
func verifyCRL(der []byte, src Source, issuer *x509.Certificate, held *crlDoc, now time.Time, skew time.Duration) (*crlDoc, *SourceError) {
	fail := func(o Outcome, format string, args ...any) (*crlDoc, *SourceError) {
		return nil, &SourceError{Source: src, Outcome: o, Err: fmt.Errorf(format, args...)}
	}
	if bytes.HasPrefix(bytes.TrimSpace(der), []byte("-----BEGIN")) {
		blk, _ := pem.Decode(der)
		if blk == nil || blk.Type != "X509 CRL" {
			return fail(ParseError, "a PEM body that is not one X509 CRL block")
		}
		der = blk.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return fail(ParseError, "%v", err)
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return fail(Invalid, "issued by %q, not by the device certificates' issuer %q", crl.Issuer, issuer.Subject)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return fail(BadSignature, "not signed by %q: %v", issuer.Subject, err)
	}
	if len(crl.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(crl.AuthorityKeyId, issuer.SubjectKeyId) {
		return fail(Invalid, "authority key identifier %x is not the issuer's %x", crl.AuthorityKeyId, issuer.SubjectKeyId)
	}
	doc := &crlDoc{thisUpdate: crl.ThisUpdate, nextUpdate: crl.NextUpdate, size: len(der)}
	doc.number = crl.Number // nil without a cRLNumber
	for _, e := range crl.Extensions {
		switch {
		case e.Id.Equal(oidIDP):
			scoped, err := checkIDP(e.Value, src.URL)
			if err != nil {
				return fail(Invalid, "issuingDistributionPoint: %v", err)
			}
			doc.scoped = scoped
		case e.Id.Equal(oidDeltaCRL):
			return fail(Invalid, "a delta CRL; only complete CRLs are used")
		case e.Critical && !e.Id.Equal(oidCRLNumber) && !e.Id.Equal(oidAKI):
			return fail(Invalid, "unsupported critical extension %v", e.Id)
		}
	}
	if crl.NextUpdate.IsZero() {
		return fail(Invalid, "no nextUpdate, so there is no telling when it goes stale (RFC 5280 5.1.2.5)")
	}
	if now.Before(crl.ThisUpdate.Add(-skew)) {
		return fail(Stale, "thisUpdate %s is in the future", crl.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if now.After(crl.NextUpdate) {
		return fail(Stale, "nextUpdate %s has passed", crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	if held != nil {
		if crl.ThisUpdate.Before(held.thisUpdate) {
			return fail(Stale, "thisUpdate %s is older than that of the CRL held (%s)", crl.ThisUpdate.UTC().Format(time.RFC3339), held.thisUpdate.UTC().Format(time.RFC3339))
		}
		if held.number != nil && doc.number != nil && doc.number.Cmp(held.number) < 0 {
			return fail(Stale, "cRLNumber %s is lower than that of the CRL held (%s)", doc.number, held.number)
		}
	}
	doc.entries = make(map[string]Revocation, len(crl.RevokedCertificateEntries))
	for i, e := range crl.RevokedCertificateEntries {
		for _, x := range e.Extensions {
			if x.Critical && !x.Id.Equal(oidReasonCode) && !x.Id.Equal(oidInvalidityDate) {
				if x.Id.Equal(oidCertificateIssr) {
					return fail(Invalid, "entry %d: an indirect CRL entry (certificateIssuer); indirect CRLs are not used", i)
				}
				return fail(Invalid, "entry %d: unsupported critical extension %v", i, x.Id)
			}
		}
		if e.SerialNumber == nil {
			return fail(ParseError, "entry %d has no serial", i)
		}
		doc.entries[serialKey(e.SerialNumber)] = Revocation{Time: e.RevocationTime, Reason: e.ReasonCode}
	}
	return doc, nil
}

// IssuingDistributionPoint field tags (RFC 5280 5.2.5); all are implicit.
var (
	idpDistributionPoint = cbasn1.Tag(0).Constructed().ContextSpecific()
	idpFullName          = cbasn1.Tag(0).Constructed().ContextSpecific()
	idpUserCerts         = cbasn1.Tag(1).ContextSpecific()
	idpCACerts           = cbasn1.Tag(2).ContextSpecific()
	idpSomeReasons       = cbasn1.Tag(3).ContextSpecific()
	idpIndirect          = cbasn1.Tag(4).ContextSpecific()
	idpAttrCerts         = cbasn1.Tag(5).ContextSpecific()
	generalNameURI       = cbasn1.Tag(6).ContextSpecific()
)

var errIDP = errors.New("malformed")

// checkIDP reads an issuingDistributionPoint and refuses the scopes that leave device
// certificates out or cover only some reasons: onlyContainsCACerts,
// onlyContainsAttributeCerts, onlySomeReasons and indirectCRL. When it names distribution
// points by URI, one must be url, the URL the CRL was fetched from (RFC 5280 6.3.3
// (b)(2)(i)); scoped is then true. A distribution point named relative to the issuer is
// refused: it cannot be matched to a URL.
func checkIDP(value []byte, url string) (scoped bool, err error) {
	in := cryptobyte.String(value)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return false, errIDP
	}
	if seq.PeekASN1Tag(idpDistributionPoint) {
		var dp, full cryptobyte.String
		if !seq.ReadASN1(&dp, idpDistributionPoint) {
			return false, errIDP
		}
		if !dp.PeekASN1Tag(idpFullName) {
			return false, errors.New("a distribution point named relative to the issuer is not supported")
		}
		if !dp.ReadASN1(&full, idpFullName) || !dp.Empty() {
			return false, errIDP
		}
		var uris []string
		for !full.Empty() {
			var name cryptobyte.String
			var tag cbasn1.Tag
			if !full.ReadAnyASN1(&name, &tag) {
				return false, errIDP
			}
			if tag == generalNameURI {
				uris = append(uris, string(name))
			}
		}
		found := false
		for _, u := range uris {
			found = found || u == url
		}
		if !found {
			return false, fmt.Errorf("names %q, not %q, the URL it was fetched from", uris, url)
		}
		scoped = true
	}
	for _, f := range []struct {
		tag  cbasn1.Tag
		what string
	}{
		{idpUserCerts, ""},
		{idpCACerts, "onlyContainsCACerts: the CRL does not cover device certificates"},
		{idpSomeReasons, "onlySomeReasons: the CRL covers only some reasons"},
		{idpIndirect, "indirectCRL: indirect CRLs are not used"},
		{idpAttrCerts, "onlyContainsAttributeCerts: the CRL does not cover device certificates"},
	} {
		if !seq.PeekASN1Tag(f.tag) {
			continue
		}
		var v cryptobyte.String
		if !seq.ReadASN1(&v, f.tag) {
			return false, errIDP
		}
		if f.tag == idpSomeReasons {
			return false, errors.New(f.what)
		}
		if len(v) != 1 || (v[0] != 0 && v[0] != 0xff) {
			return false, errIDP
		}
		if v[0] == 0xff && f.what != "" {
			return false, errors.New(f.what)
		}
	}
	if !seq.Empty() {
		return false, errIDP
	}
	return scoped, nil
}
