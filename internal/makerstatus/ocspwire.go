package makerstatus

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// This file encodes OCSP requests and decodes OCSP responses (RFC 6960 section 4). The
// decoder is written against the ASN.1 module (appendix B.1, explicit tags) rather than
// golang.org/x/crypto/ocsp's ParseResponse, which exposes neither the response extensions
// (the nonce) nor the CertID hashes it matches on, and which checks neither the delegated
// responder's extended key usage nor its validity.

var (
	oidSHA1      = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidNonce     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	hashByOID    = map[string]crypto.Hash{
		"1.3.14.3.2.26":          crypto.SHA1,
		"2.16.840.1.101.3.4.2.1": crypto.SHA256,
		"2.16.840.1.101.3.4.2.2": crypto.SHA384,
		"2.16.840.1.101.3.4.2.3": crypto.SHA512,
	}
	sigAlgByOID = map[string]x509.SignatureAlgorithm{
		"1.2.840.10045.4.3.2":   x509.ECDSAWithSHA256,
		"1.2.840.10045.4.3.3":   x509.ECDSAWithSHA384,
		"1.2.840.10045.4.3.4":   x509.ECDSAWithSHA512,
		"1.2.840.113549.1.1.11": x509.SHA256WithRSA,
		"1.2.840.113549.1.1.12": x509.SHA384WithRSA,
		"1.2.840.113549.1.1.13": x509.SHA512WithRSA,
		"1.3.101.112":           x509.PureEd25519,
	}
	pssByHash = map[crypto.Hash]x509.SignatureAlgorithm{
		crypto.SHA256: x509.SHA256WithRSAPSS, crypto.SHA384: x509.SHA384WithRSAPSS, crypto.SHA512: x509.SHA512WithRSAPSS,
	}
	oidRSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
)

// Bounds on what one response may hold; a responder answering for one certificate needs one
// SingleResponse and one or two certificates.
const (
	maxSingleResponses = 64
	maxResponseCerts   = 8
	nonceLen           = 32 // RFC 8954 section 2.1: 1 to 32 octets
)

// certID identifies a certificate to a responder (RFC 6960 4.1.1).
type certID struct {
	hash     crypto.Hash
	nameHash []byte
	keyHash  []byte
	serial   *big.Int
}

// subjectPublicKeyBits returns the contents of the subjectPublicKey BIT STRING of a DER
// SubjectPublicKeyInfo: what CertID's issuerKeyHash and ResponderID byKey hash.
func subjectPublicKeyBits(spki []byte) ([]byte, error) {
	in := cryptobyte.String(spki)
	var seq cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.SkipASN1(cbasn1.SEQUENCE) || !seq.ReadASN1BitString(&bits) {
		return nil, errors.New("malformed SubjectPublicKeyInfo")
	}
	return bits.Bytes, nil
}

// newCertID returns the CertID of serial under issuer with hash h.
func newCertID(issuer *x509.Certificate, serial *big.Int, h crypto.Hash) (certID, error) {
	if !h.Available() {
		return certID{}, fmt.Errorf("hash %v is not available", h)
	}
	bits, err := subjectPublicKeyBits(issuer.RawSubjectPublicKeyInfo)
	if err != nil {
		return certID{}, err
	}
	nh, kh := h.New(), h.New()
	nh.Write(issuer.RawSubject)
	kh.Write(bits)
	return certID{hash: h, nameHash: nh.Sum(nil), keyHash: kh.Sum(nil), serial: serial}, nil
}

// buildRequest encodes an OCSPRequest for id, unsigned, with a nonce extension (RFC 8954)
// holding nonce when it is not nil. The CertID hash is SHA-1, as RFC 5019 and every responder
// expect.
func buildRequest(id certID, nonce []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // OCSPRequest
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // TBSRequest
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // requestList
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Request
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // CertID
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidSHA1)
							b.AddASN1NULL()
						})
						b.AddASN1OctetString(id.nameHash)
						b.AddASN1OctetString(id.keyHash)
						b.AddASN1BigInt(id.serial)
					})
				})
			})
			if nonce != nil {
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extensions
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extension
							b.AddASN1ObjectIdentifier(oidNonce)
							b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
								b.AddASN1OctetString(nonce)
							})
						})
					})
				})
			}
		})
	})
	return b.Bytes()
}

// ocspResponse is a decoded OCSPResponse; nothing in it is verified yet.
type ocspResponse struct {
	status int // responseStatus; the rest is set only when it is 0 (successful)

	tbs       []byte // the DER of tbsResponseData, which the signature covers
	sigAlg    x509.SignatureAlgorithm
	sigAlgOID asn1.ObjectIdentifier
	signature []byte
	certs     [][]byte

	responderName    []byte // the DER Name of ResponderID byName, or nil
	responderKeyHash []byte // ResponderID byKey, or nil
	producedAt       time.Time
	responses        []singleResponse
	nonce            []byte                // the nonce extension's extnValue, nil if none
	critical         asn1.ObjectIdentifier // an unknown critical response extension, if any
}

// singleResponse is one SingleResponse.
type singleResponse struct {
	hashOID    asn1.ObjectIdentifier
	nameHash   []byte
	keyHash    []byte
	serial     *big.Int
	status     Status
	revokedAt  time.Time
	reason     int
	thisUpdate time.Time
	nextUpdate time.Time // zero if absent
	critical   bool      // carries a critical singleExtension (none is understood)
}

var (
	errMalformed = errors.New("malformed OCSP response")
	explicit0    = cbasn1.Tag(0).Constructed().ContextSpecific()
	explicit1    = cbasn1.Tag(1).Constructed().ContextSpecific()
	explicit2    = cbasn1.Tag(2).Constructed().ContextSpecific()
	implicitGood = cbasn1.Tag(0).ContextSpecific()
	implicitRev  = cbasn1.Tag(1).Constructed().ContextSpecific()
	implicitUnkn = cbasn1.Tag(2).ContextSpecific()
)

// parseOCSPResponse decodes a DER OCSPResponse. Only the syntax is checked (and the bounds
// above); verifyOCSP judges the content. A non-successful responseStatus is returned in
// status without error.
func parseOCSPResponse(der []byte) (*ocspResponse, error) {
	in := cryptobyte.String(der)
	var top cryptobyte.String
	var status int
	if !in.ReadASN1(&top, cbasn1.SEQUENCE) || !in.Empty() || !top.ReadASN1Enum(&status) {
		return nil, errMalformed
	}
	r := &ocspResponse{status: status}
	if status != 0 {
		return r, nil
	}
	var rb, rbSeq, basic cryptobyte.String
	var typ asn1.ObjectIdentifier
	if !top.ReadASN1(&rb, explicit0) || !top.Empty() || !rb.ReadASN1(&rbSeq, cbasn1.SEQUENCE) || !rb.Empty() ||
		!rbSeq.ReadASN1ObjectIdentifier(&typ) || !rbSeq.ReadASN1(&basic, cbasn1.OCTET_STRING) || !rbSeq.Empty() {
		return nil, errMalformed
	}
	if !typ.Equal(oidOCSPBasic) {
		return nil, fmt.Errorf("response type %v is not id-pkix-ocsp-basic", typ)
	}
	var bseq, tbs, alg cryptobyte.String
	var sig asn1.BitString
	if !basic.ReadASN1(&bseq, cbasn1.SEQUENCE) || !basic.Empty() || !bseq.ReadASN1Element(&tbs, cbasn1.SEQUENCE) ||
		!bseq.ReadASN1(&alg, cbasn1.SEQUENCE) || !bseq.ReadASN1BitString(&sig) {
		return nil, errMalformed
	}
	r.tbs, r.signature = []byte(tbs), sig.RightAlign()
	if err := r.readSigAlg(alg); err != nil {
		return nil, err
	}
	if bseq.PeekASN1Tag(explicit0) {
		var wrap, list cryptobyte.String
		if !bseq.ReadASN1(&wrap, explicit0) || !wrap.ReadASN1(&list, cbasn1.SEQUENCE) || !wrap.Empty() {
			return nil, errMalformed
		}
		for !list.Empty() {
			var cert cryptobyte.String
			if !list.ReadASN1Element(&cert, cbasn1.SEQUENCE) {
				return nil, errMalformed
			}
			if len(r.certs) == maxResponseCerts {
				return nil, fmt.Errorf("more than %d certificates", maxResponseCerts)
			}
			r.certs = append(r.certs, []byte(cert))
		}
	}
	if !bseq.Empty() {
		return nil, errMalformed
	}
	if err := r.readTBS(tbs); err != nil {
		return nil, err
	}
	return r, nil
}

// readSigAlg reads the signature AlgorithmIdentifier; an algorithm Hallmark does not verify
// leaves sigAlg UnknownSignatureAlgorithm.
func (r *ocspResponse) readSigAlg(alg cryptobyte.String) error {
	if !alg.ReadASN1ObjectIdentifier(&r.sigAlgOID) {
		return errMalformed
	}
	r.sigAlg = sigAlgByOID[r.sigAlgOID.String()]
	if r.sigAlgOID.Equal(oidRSAPSS) {
		// RSASSA-PSS-params: hashAlgorithm [0] EXPLICIT AlgorithmIdentifier, then the rest.
		var params, wrap, h cryptobyte.String
		var hoid asn1.ObjectIdentifier
		if alg.ReadASN1(&params, cbasn1.SEQUENCE) && params.ReadASN1(&wrap, explicit0) && wrap.ReadASN1(&h, cbasn1.SEQUENCE) && h.ReadASN1ObjectIdentifier(&hoid) {
			r.sigAlg = pssByHash[hashByOID[hoid.String()]]
		}
	}
	return nil
}

// readTBS reads ResponseData.
func (r *ocspResponse) readTBS(tbs cryptobyte.String) error {
	var data, rid, list cryptobyte.String
	if !tbs.ReadASN1(&data, cbasn1.SEQUENCE) {
		return errMalformed
	}
	if data.PeekASN1Tag(explicit0) {
		var v cryptobyte.String
		var version int64
		if !data.ReadASN1(&v, explicit0) || !v.ReadASN1Integer(&version) || !v.Empty() || version != 0 {
			return errors.New("unsupported OCSP response version")
		}
	}
	var ridTag cbasn1.Tag
	if !data.ReadAnyASN1(&rid, &ridTag) {
		return errMalformed
	}
	switch ridTag {
	case explicit1:
		var name cryptobyte.String
		if !rid.ReadASN1Element(&name, cbasn1.SEQUENCE) || !rid.Empty() {
			return errMalformed
		}
		r.responderName = []byte(name)
	case explicit2:
		if !rid.ReadASN1Bytes(&r.responderKeyHash, cbasn1.OCTET_STRING) || !rid.Empty() {
			return errMalformed
		}
	default:
		return errMalformed
	}
	if !data.ReadASN1GeneralizedTime(&r.producedAt) || !data.ReadASN1(&list, cbasn1.SEQUENCE) {
		return errMalformed
	}
	for !list.Empty() {
		if len(r.responses) == maxSingleResponses {
			return fmt.Errorf("more than %d responses", maxSingleResponses)
		}
		var one cryptobyte.String
		if !list.ReadASN1(&one, cbasn1.SEQUENCE) {
			return errMalformed
		}
		sr, err := readSingle(one)
		if err != nil {
			return err
		}
		r.responses = append(r.responses, sr)
	}
	if data.PeekASN1Tag(explicit1) {
		var wrap cryptobyte.String
		if !data.ReadASN1(&wrap, explicit1) {
			return errMalformed
		}
		err := readExtensions(wrap, func(id asn1.ObjectIdentifier, critical bool, value []byte) error {
			switch {
			case id.Equal(oidNonce):
				if r.nonce != nil {
					return errors.New("two nonce extensions")
				}
				r.nonce = value
			case critical && r.critical == nil:
				r.critical = id
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !data.Empty() || !tbs.Empty() {
		return errMalformed
	}
	return nil
}

// readSingle reads one SingleResponse.
func readSingle(one cryptobyte.String) (singleResponse, error) {
	var sr singleResponse
	var id, alg cryptobyte.String
	sr.serial = new(big.Int)
	if !one.ReadASN1(&id, cbasn1.SEQUENCE) || !id.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&sr.hashOID) ||
		!id.ReadASN1Bytes(&sr.nameHash, cbasn1.OCTET_STRING) || !id.ReadASN1Bytes(&sr.keyHash, cbasn1.OCTET_STRING) ||
		!id.ReadASN1Integer(sr.serial) || !id.Empty() {
		return sr, errMalformed
	}
	var st cryptobyte.String
	var tag cbasn1.Tag
	if !one.ReadAnyASN1(&st, &tag) {
		return sr, errMalformed
	}
	switch tag {
	case implicitGood:
		sr.status = Good
	case implicitUnkn:
		sr.status = Unknown
	case implicitRev:
		sr.status = Revoked
		if !st.ReadASN1GeneralizedTime(&sr.revokedAt) {
			return sr, errMalformed
		}
		if st.PeekASN1Tag(explicit0) {
			var wrap cryptobyte.String
			var reason int
			if !st.ReadASN1(&wrap, explicit0) || !wrap.ReadASN1Enum(&reason) || !wrap.Empty() || reason < 0 || reason > 10 {
				return sr, errMalformed
			}
			sr.reason = reason
		}
		if !st.Empty() {
			return sr, errMalformed
		}
	default:
		return sr, errMalformed
	}
	if tag != implicitRev && !st.Empty() {
		return sr, errMalformed
	}
	if !one.ReadASN1GeneralizedTime(&sr.thisUpdate) {
		return sr, errMalformed
	}
	if one.PeekASN1Tag(explicit0) {
		var wrap cryptobyte.String
		if !one.ReadASN1(&wrap, explicit0) || !wrap.ReadASN1GeneralizedTime(&sr.nextUpdate) || !wrap.Empty() {
			return sr, errMalformed
		}
	}
	if one.PeekASN1Tag(explicit1) {
		var wrap cryptobyte.String
		if !one.ReadASN1(&wrap, explicit1) {
			return sr, errMalformed
		}
		err := readExtensions(wrap, func(_ asn1.ObjectIdentifier, critical bool, _ []byte) error {
			sr.critical = sr.critical || critical
			return nil
		})
		if err != nil {
			return sr, err
		}
	}
	if !one.Empty() {
		return sr, errMalformed
	}
	return sr, nil
}

// readExtensions reads an Extensions SEQUENCE (wrapped in its explicit tag) and calls f for
// each extension.
func readExtensions(wrap cryptobyte.String, f func(id asn1.ObjectIdentifier, critical bool, value []byte) error) error {
	var seq cryptobyte.String
	if !wrap.ReadASN1(&seq, cbasn1.SEQUENCE) || !wrap.Empty() {
		return errMalformed
	}
	for !seq.Empty() {
		var ext cryptobyte.String
		var id asn1.ObjectIdentifier
		var critical bool
		var value []byte
		// Not ReadOptionalASN1Boolean: it expects the BOOLEAN inside an explicit tag.
		if !seq.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&id) ||
			ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical) ||
			!ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return errMalformed
		}
		if err := f(id, critical, value); err != nil {
			return err
		}
	}
	return nil
}
