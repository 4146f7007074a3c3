package est

// A certs-only response (RFC 7030 section 4.1.3, RFC 5652 section 5) is a degenerate
// SignedData: version 1, no digest algorithms, no content, the certificates, no signers. It
// is a fixed shape of a few DER elements, written here with x/crypto's cryptobyte rather than
// pulling in a general CMS library for it; TestCertsOnlyRoundTrip and the openssl and estclient interop
// tests check the encoding against outside parsers.

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
)

// CertsOnly encodes certificates as a degenerate CMS SignedData, the "certs-only" Simple PKI
// Response of RFC 5272 section 4.1 that RFC 7030 sections 4.1.3 and 4.2.3 return: version 1,
// no digest algorithms, encapsulated content of type id-data with no content, the
// certificates, and no signers (RFC 5652 section 5.1). The certificates keep their order.
func CertsOnly(certs []*x509.Certificate) []byte {
	n := 0
	for _, c := range certs {
		n += len(c.Raw)
	}
	// 64 octets hold every element around the certificates.
	b := cryptobyte.NewBuilder(make([]byte, 0, n+64))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // [0] EXPLICIT content
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)                                        // version
				b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})      // digestAlgorithms: none
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // encapContentInfo: id-data, no content
					b.AddASN1ObjectIdentifier(oidData)
				})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // certificates [0] IMPLICIT
					for _, c := range certs {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {}) // signerInfos: none
			})
		})
	})
	// The builder fails only on an element longer than 2^32 octets, which the certificates of
	// one response cannot reach.
	return b.BytesOrPanic()
}

// ParseCertsOnly reads the certificates of a certs-only CMS SignedData (DER). It accepts any
// SignedData and ignores signers: a certs-only response is trusted through the TLS channel
// it arrived on, not through a signature (RFC 7030 section 4.1.3).
func ParseCertsOnly(der []byte) ([]*x509.Certificate, error) {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("est: PKCS#7: %w", err)
	} else if len(rest) > 0 {
		return nil, errors.New("est: PKCS#7: trailing data")
	}
	if !ci.Type.Equal(oidSignedData) {
		return nil, fmt.Errorf("est: PKCS#7: content type %v is not signedData", ci.Type)
	}
	var sd struct {
		Version      int
		Digests      asn1.RawValue
		Encap        asn1.RawValue
		Certificates asn1.RawValue `asn1:"optional,tag:0"`
		Rest         asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("est: PKCS#7 SignedData: %w", err)
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("est: PKCS#7 certificates: %w", err)
	}
	return certs, nil
}

// encodeBase64 is the body encoding of RFC 7030 section 4 as clarified by RFC 8951 section 3:
// base64 (RFC 4648) in lines of 64 characters ending in CRLF.
func encodeBase64(b []byte) []byte {
	s := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(s, b)
	out := make([]byte, 0, len(s)+2*(len(s)/64+1))
	for len(s) > 64 {
		out = append(append(out, s[:64]...), '\r', '\n')
		s = s[64:]
	}
	return append(append(out, s...), '\r', '\n')
}

// decodeBase64 reads a base64 body, with or without line breaks or other white space, and
// with or without padding (RFC 8951 section 3 asks receivers to be liberal here).
func decodeBase64(b []byte) ([]byte, error) {
	s := strings.Join(strings.Fields(string(b)), "")
	if s == "" {
		return nil, errors.New("the body is empty")
	}
	if d, err := base64.StdEncoding.DecodeString(s); err == nil {
		return d, nil
	}
	d, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, errors.New("the body is not base64")
	}
	return d, nil
}
