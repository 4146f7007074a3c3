package makerstatus

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/hallmark-id/hallmark/internal/chainverify"
)

// ocspAnswer is an OCSP answer that verified.
type ocspAnswer struct {
	status                 Status
	revocation             Revocation
	thisUpdate, nextUpdate time.Time // nextUpdate is zero when the responder gave none
	nonce                  bool      // the response echoed the request's nonce
	// expires is when the answer stops counting: nextUpdate, or thisUpdate + OCSPMaxAge.
	expires time.Time
}

// fresh reports whether a may be used at now.
func (a *ocspAnswer) fresh(now time.Time, skew time.Duration) bool {
	return !now.Before(a.thisUpdate.Add(-skew)) && !now.After(a.expires)
}

// nonceValue is the extnValue of a nonce extension holding nonce: an OCTET STRING.
func nonceValue(nonce []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1OctetString(nonce)
	return b.BytesOrPanic()
}

// verifyOCSP decodes der, the answer of the responder src to a request for id (with nonce,
// if not nil), and verifies it against issuer at now (RFC 6960 section 3.2): a successful
// basic response; signed by issuer, or by a certificate it carries that issuer issued with
// id-kp-OCSPSigning, valid at now, and that the ResponderID names (4.2.2.2); a SingleResponse
// for exactly id; no critical extension it does not understand; the nonce echoed if one is
// returned; and fresh at now. An answer without nextUpdate counts until thisUpdate + maxAge.
// Errors are *SourceError.
func verifyOCSP(der []byte, src Source, issuer *x509.Certificate, id certID, nonce []byte, now time.Time, skew, maxAge time.Duration) (*ocspAnswer, *SourceError) {
	fail := func(o Outcome, format string, args ...any) (*ocspAnswer, *SourceError) {
		return nil, &SourceError{Source: src, Outcome: o, Err: fmt.Errorf(format, args...)}
	}
	r, err := parseOCSPResponse(der)
	if err != nil {
		return fail(ParseError, "%v", err)
	}
	if r.status != 0 {
		return fail(ResponderError, "responseStatus %d (%s)", r.status, responseStatusName(r.status))
	}
	if err := checkResponder(r, issuer, now); err != nil {
		return fail(BadSignature, "%v", err)
	}
	if r.critical != nil {
		return fail(Invalid, "unsupported critical response extension %v", r.critical)
	}
	if nonce != nil && r.nonce != nil && !bytes.Equal(r.nonce, nonceValue(nonce)) && !bytes.Equal(r.nonce, nonce) {
		return fail(Invalid, "the nonce in the response is not the one sent")
	}
	var sr *singleResponse
	for i := range r.responses {
		if matches(&r.responses[i], issuer, id) {
			sr = &r.responses[i]
			break
		}
	}
	if sr == nil {
		return fail(Invalid, "no answer for serial %x of %q among %d", id.serial, issuer.Subject, len(r.responses))
	}
	if sr.critical {
		return fail(Invalid, "unsupported critical singleExtension")
	}
	a := &ocspAnswer{status: sr.status, thisUpdate: sr.thisUpdate, nextUpdate: sr.nextUpdate, nonce: nonce != nil && r.nonce != nil}
	if sr.status == Revoked {
		a.revocation = Revocation{Time: sr.revokedAt, Reason: sr.reason}
	}
	a.expires = sr.nextUpdate
	if sr.nextUpdate.IsZero() {
		a.expires = sr.thisUpdate.Add(maxAge)
	} else if sr.nextUpdate.Before(sr.thisUpdate) {
		return fail(Invalid, "nextUpdate is before thisUpdate")
	}
	if now.Before(sr.thisUpdate.Add(-skew)) {
		return fail(Stale, "thisUpdate %s is in the future", sr.thisUpdate.UTC().Format(time.RFC3339))
	}
	if now.After(a.expires) {
		if sr.nextUpdate.IsZero() {
			return fail(Stale, "no nextUpdate and thisUpdate %s is older than %s", sr.thisUpdate.UTC().Format(time.RFC3339), maxAge)
		}
		return fail(Stale, "nextUpdate %s has passed", sr.nextUpdate.UTC().Format(time.RFC3339))
	}
	return a, nil
}

// matches reports whether sr answers for id: the same serial, and issuer name and key hashes
// that are issuer's under sr's hash algorithm.
func matches(sr *singleResponse, issuer *x509.Certificate, id certID) bool {
	if sr.serial.Cmp(id.serial) != 0 {
		return false
	}
	h, ok := hashByOID[sr.hashOID.String()]
	if !ok {
		return false
	}
	want := id
	if h != id.hash {
		var err error
		if want, err = newCertID(issuer, id.serial, h); err != nil {
			return false
		}
	}
	return bytes.Equal(sr.nameHash, want.nameHash) && bytes.Equal(sr.keyHash, want.keyHash)
}

// checkResponder finds who signed r and checks the signature: the issuer itself, or a
// delegated responder among r's certificates (RFC 6960 4.2.2.2), which chainverify must
// accept as issued directly by issuer for id-kp-OCSPSigning at now.
func checkResponder(r *ocspResponse, issuer *x509.Certificate, now time.Time) error {
	if r.sigAlg == x509.UnknownSignatureAlgorithm {
		return fmt.Errorf("signature algorithm %v is not supported", r.sigAlgOID)
	}
	names := func(c *x509.Certificate) bool {
		if r.responderName != nil {
			return bytes.Equal(r.responderName, c.RawSubject)
		}
		bits, err := subjectPublicKeyBits(c.RawSubjectPublicKeyInfo)
		if err != nil {
			return false
		}
		sum := sha1.Sum(bits)
		return bytes.Equal(r.responderKeyHash, sum[:])
	}
	if names(issuer) {
		if err := issuer.CheckSignature(r.sigAlg, r.tbs, r.signature); err != nil {
			return fmt.Errorf("the issuer's signature does not verify: %w", err)
		}
		return nil
	}
	why := fmt.Errorf("the responder is neither the issuer nor a certificate the response carries")
	for _, der := range r.certs {
		c, err := x509.ParseCertificate(der)
		if err != nil || !names(c) {
			continue
		}
		if _, err := chainverify.Verify(c, chainverify.Options{
			Anchors:   []*x509.Certificate{issuer},
			Now:       now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		}); err != nil {
			why = fmt.Errorf("the responder certificate is not authorised by the issuer: %w", err)
			continue
		}
		if err := c.CheckSignature(r.sigAlg, r.tbs, r.signature); err != nil {
			why = fmt.Errorf("the responder's signature does not verify: %w", err)
			continue
		}
		return nil
	}
	return why
}

// responseStatusName names an OCSPResponseStatus (RFC 6960 4.2.1).
func responseStatusName(s int) string {
	switch s {
	case 1:
		return "malformedRequest"
	case 2:
		return "internalError"
	case 3:
		return "tryLater"
	case 5:
		return "sigRequired"
	case 6:
		return "unauthorized"
	}
	return "unknown status"
}
