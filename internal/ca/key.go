package ca

import (
	"crypto/sha256"
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TBSKeySHA256 returns the SHA-256 of the SubjectPublicKeyInfo inside a DER TBSCertificate
// (RFC 5280 section 4.1: version, serialNumber, signature, issuer, validity, subject,
// subjectPublicKeyInfo, ...). It hashes the SPKI exactly as the certificate carries it, the
// bytes x509.Certificate.RawSubjectPublicKeyInfo holds once signed.
func TBSKeySHA256(tbs []byte) ([]byte, error) {
	in := cryptobyte.String(tbs)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("ca: the to-be-signed certificate is not one DER SEQUENCE")
	}
	if !body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || // version
		!body.SkipASN1(cbasn1.INTEGER) || // serialNumber
		!body.SkipASN1(cbasn1.SEQUENCE) || // signature
		!body.SkipASN1(cbasn1.SEQUENCE) || // issuer
		!body.SkipASN1(cbasn1.SEQUENCE) || // validity
		!body.SkipASN1(cbasn1.SEQUENCE) { // subject
		return nil, errors.New("ca: the to-be-signed certificate is malformed before its public key")
	}
	var spki cryptobyte.String
	if !body.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, errors.New("ca: the to-be-signed certificate has no subjectPublicKeyInfo")
	}
	sum := sha256.Sum256(spki)
	return sum[:], nil
}
