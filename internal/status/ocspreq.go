package status

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Request is the part of an OCSPRequest (RFC 6960 section 4.1.1) the responder uses.
type Request struct {
	// CertID is the DER of the request's CertID, echoed in the response so that the client
	// finds its answer whatever hash algorithm and parameter encoding it chose.
	CertID   []byte
	Hash     crypto.Hash
	NameHash []byte
	KeyHash  []byte
	Serial   *big.Int
	// Nonce is the extnValue of the nonce extension (RFC 6960 section 4.4.1), nil if none.
	Nonce []byte
}

// Errors of ParseRequest; all of them are answered with malformedRequest.
var (
	ErrMalformed    = errors.New("status: malformed OCSP request")
	ErrManyRequests = errors.New("status: an OCSP request for more than one certificate")
	ErrHash         = errors.New("status: unsupported CertID hash algorithm")
)

// maxNonce bounds the nonce extnValue: RFC 8954 allows 1 to 32 octets of nonce, plus the
// OCTET STRING header that most clients (openssl among them) wrap it in.
const maxNonce = 34

var (
	oidNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	hashOIDs = map[string]crypto.Hash{
		"1.3.14.3.2.26":          crypto.SHA1,
		"2.16.840.1.101.3.4.2.1": crypto.SHA256,
		"2.16.840.1.101.3.4.2.2": crypto.SHA384,
		"2.16.840.1.101.3.4.2.3": crypto.SHA512,
	}
)

var (
	tag0 = cbasn1.Tag(0).Constructed().ContextSpecific()
	tag1 = cbasn1.Tag(1).Constructed().ContextSpecific()
	tag2 = cbasn1.Tag(2).Constructed().ContextSpecific()
)

// ParseRequest parses a DER OCSPRequest holding exactly one Request (Hallmark answers one
// certificate per request, as openssl and every device stack ask). A signature on the
// request is ignored: RFC 6960 makes it optional and the responder serves anyone.
func ParseRequest(der []byte) (*Request, error) {
	in := cryptobyte.String(der)
	var ocspReq, tbs, list, one cryptobyte.String
	if !in.ReadASN1(&ocspReq, cbasn1.SEQUENCE) || !in.Empty() || !ocspReq.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, ErrMalformed
	}
	if ocspReq.PeekASN1Tag(tag0) && !ocspReq.SkipASN1(tag0) || !ocspReq.Empty() {
		return nil, ErrMalformed
	}
	if tbs.PeekASN1Tag(tag0) {
		var v cryptobyte.String
		var version int64
		if !tbs.ReadASN1(&v, tag0) || !v.ReadASN1Integer(&version) || version != 0 || !v.Empty() {
			return nil, ErrMalformed
		}
	}
	if tbs.PeekASN1Tag(tag1) && !tbs.SkipASN1(tag1) {
		return nil, ErrMalformed
	}
	if !tbs.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, ErrMalformed
	}
	r := &Request{}
	if tbs.PeekASN1Tag(tag2) {
		var exts cryptobyte.String
		if !tbs.ReadASN1(&exts, tag2) {
			return nil, ErrMalformed
		}
		nonce, err := readNonce(exts)
		if err != nil {
			return nil, err
		}
		r.Nonce = nonce
	}
	if !tbs.Empty() || !list.ReadASN1(&one, cbasn1.SEQUENCE) {
		return nil, ErrMalformed
	}
	if !list.Empty() {
		return nil, ErrManyRequests
	}
	var certID cryptobyte.String
	if !one.ReadASN1Element(&certID, cbasn1.SEQUENCE) {
		return nil, ErrMalformed
	}
	if one.PeekASN1Tag(tag0) && !one.SkipASN1(tag0) || !one.Empty() {
		return nil, ErrMalformed
	}
	r.CertID = []byte(certID)
	var body, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	r.Serial = new(big.Int)
	if !certID.ReadASN1(&body, cbasn1.SEQUENCE) || !body.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) ||
		!body.ReadASN1Bytes(&r.NameHash, cbasn1.OCTET_STRING) || !body.ReadASN1Bytes(&r.KeyHash, cbasn1.OCTET_STRING) ||
		!body.ReadASN1Integer(r.Serial) || !body.Empty() {
		return nil, ErrMalformed
	}
	if !alg.Empty() && !alg.SkipASN1(cbasn1.NULL) || !alg.Empty() {
		return nil, ErrMalformed
	}
	h, ok := hashOIDs[oid.String()]
	if !ok {
		return nil, ErrHash
	}
	r.Hash = h
	if len(r.NameHash) != h.Size() || len(r.KeyHash) != h.Size() || r.Serial.Sign() <= 0 {
		return nil, ErrMalformed
	}
	return r, nil
}

// readNonce reads Extensions and returns the nonce's extnValue. Other extensions are
// ignored, as RFC 6960 section 4.4 allows for non-critical ones; an unknown critical one is
// malformed.
func readNonce(exts cryptobyte.String) ([]byte, error) {
	var seq cryptobyte.String
	if !exts.ReadASN1(&seq, cbasn1.SEQUENCE) || !exts.Empty() {
		return nil, ErrMalformed
	}
	var nonce []byte
	for !seq.Empty() {
		var ext cryptobyte.String
		var id asn1.ObjectIdentifier
		var critical bool
		var value []byte
		if !seq.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&id) ||
			!ext.ReadOptionalASN1Boolean(&critical, cbasn1.BOOLEAN, false) ||
			!ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return nil, ErrMalformed
		}
		switch {
		case id.Equal(oidNonce):
			if nonce != nil || len(value) == 0 || len(value) > maxNonce {
				return nil, ErrMalformed
			}
			nonce = value
		case critical:
			return nil, ErrMalformed
		}
	}
	return nonce, nil
}
