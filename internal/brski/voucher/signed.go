package voucher

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/smallstep/pkcs7"
)

// The media types of signed artifacts (RFC 8366 section 8.3; draft-ietf-anima-jws-voucher).
const (
	MediaCMS = "application/voucher-cms+json"
	MediaJWS = "application/voucher-jws+json"
)

// jwsType is the "typ" of a JWS voucher's protected header (draft-ietf-anima-jws-voucher).
const jwsType = "voucher-jws+json"

// OIDContentType is id-ct-animaJSONVoucher (RFC 8366 section 8.3), the eContentType of a CMS
// voucher and voucher request.
var OIDContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 40}

// Signer signs artifacts: a key and its certificate chain, leaf first (the leaf's key is Key).
type Signer struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Signed is a verified signed artifact: its JSON payload and the certificate whose key
// signed it, with the other certificates the artifact carried.
type Signed struct {
	Payload []byte
	Signer  *x509.Certificate
	Certs   []*x509.Certificate
}

// VerifyOptions say what a signature must chain to.
type VerifyOptions struct {
	// Roots, when set, must anchor the signer's chain (built with the carried certificates)
	// at Now; nil checks the signature only, and the caller judges Signer itself.
	Roots *x509.CertPool
	Now   time.Time
	// MaxSize bounds the signed data (0: MaxSize; MaxRegistrarRequest for a registrar's).
	MaxSize int
}

func (o VerifyOptions) max() int {
	if o.MaxSize > 0 {
		return o.MaxSize
	}
	return MaxSize
}

// Sign signs payload as media (MediaCMS or MediaJWS).
func Sign(media string, payload []byte, s Signer) ([]byte, error) {
	switch media {
	case MediaCMS:
		return SignCMS(payload, s)
	case MediaJWS:
		return SignJWS(payload, s)
	}
	return nil, fmt.Errorf("voucher: cannot sign as %q", media)
}

// Verify verifies data signed as media (MediaCMS or MediaJWS).
func Verify(media string, data []byte, o VerifyOptions) (Signed, error) {
	switch media {
	case MediaCMS:
		return VerifyCMS(data, o)
	case MediaJWS:
		return VerifyJWS(data, o)
	}
	return Signed{}, fmt.Errorf("voucher: %q is not %s nor %s", media, MediaCMS, MediaJWS)
}

// SignCMS wraps payload in CMS SignedData with eContentType id-ct-animaJSONVoucher, signed
// with SHA-256 and carrying s.Chain (RFC 8366 section 5.4).
func SignCMS(payload []byte, s Signer) ([]byte, error) {
	if len(s.Chain) == 0 || s.Key == nil {
		return nil, errors.New("voucher: the signer has no key or certificate")
	}
	sd, err := pkcs7.NewSignedData(payload)
	if err != nil {
		return nil, fmt.Errorf("voucher: CMS: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	sd.GetSignedData().ContentInfo.ContentType = OIDContentType
	if err := sd.AddSignerChain(s.Chain[0], s.Key, s.Chain[1:], pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("voucher: CMS signing: %w", err)
	}
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("voucher: CMS: %w", err)
	}
	return der, nil
}

// cmsOuter and cmsSignedData read only the eContentType, which the CMS library leaves out.
type cmsOuter struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// eContentType returns the encapsulated content type of CMS SignedData der.
func eContentType(der []byte) (asn1.ObjectIdentifier, error) {
	var outer cmsOuter
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("voucher: not a DER ContentInfo: %v", err)
	}
	if !outer.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("voucher: CMS content type %v is not SignedData", outer.ContentType)
	}
	var sd struct {
		Version int
		Digests asn1.RawValue
		Encap   struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"optional,explicit,tag:0"`
		}
		Rest []asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(outer.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("voucher: CMS SignedData: %w", err)
	}
	return sd.Encap.ContentType, nil
}

// VerifyCMS verifies CMS SignedData: exactly one signer, eContentType
// id-ct-animaJSONVoucher, the signature over the content, and with o.Roots its chain at o.Now.
func VerifyCMS(der []byte, o VerifyOptions) (Signed, error) {
	if len(der) > o.max() {
		return Signed{}, fmt.Errorf("voucher: %d bytes is more than %d", len(der), o.max())
	}
	ct, err := eContentType(der)
	if err != nil {
		return Signed{}, err
	}
	if !ct.Equal(OIDContentType) {
		return Signed{}, fmt.Errorf("voucher: CMS eContentType %v is not id-ct-animaJSONVoucher", ct)
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return Signed{}, fmt.Errorf("voucher: CMS: %w", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return Signed{}, errors.New("voucher: CMS must have exactly one signer, whose certificate it carries")
	}
	if o.Roots != nil {
		err = p7.VerifyWithChainAtTime(o.Roots, o.Now)
	} else {
		err = p7.Verify()
	}
	if err != nil {
		return Signed{}, fmt.Errorf("voucher: CMS signature: %w", err)
	}
	return Signed{Payload: p7.Content, Signer: signer, Certs: p7.Certificates}, nil
}

// jwsGeneral is the General JWS JSON serialization (RFC 7515 section 7.2.1) with one
// signature, as draft-ietf-anima-jws-voucher asks.
type jwsGeneral struct {
	Payload    string `json:"payload"`
	Signatures []struct {
		Protected string `json:"protected"`
		Signature string `json:"signature"`
	} `json:"signatures"`
}

// SignJWS signs payload as a JWS voucher: protected header {alg, typ, x5c}, General JSON
// serialization.
func SignJWS(payload []byte, s Signer) ([]byte, error) {
	if len(s.Chain) == 0 || s.Key == nil {
		return nil, errors.New("voucher: the signer has no key or certificate")
	}
	alg, err := jwsAlg(s.Key.Public())
	if err != nil {
		return nil, err
	}
	x5c := make([]string, len(s.Chain))
	for i, c := range s.Chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	opts := (&jose.SignerOptions{}).WithType(jwsType).WithHeader("x5c", x5c)
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: cryptosigner.Opaque(s.Key)}, opts)
	if err != nil {
		return nil, fmt.Errorf("voucher: JWS: %w", err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("voucher: JWS signing: %w", err)
	}
	compact, err := obj.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("voucher: JWS: %w", err)
	}
	parts := strings.Split(compact, ".")
	var g jwsGeneral
	g.Payload = parts[1]
	g.Signatures = append(g.Signatures, struct {
		Protected string `json:"protected"`
		Signature string `json:"signature"`
	}{parts[0], parts[2]})
	return json.Marshal(g)
}

var jwsAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.RS256, jose.EdDSA}

func jwsAlg(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
	case *rsa.PublicKey:
		return jose.PS256, nil
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("voucher: no JWS algorithm for a %T key", pub)
}

// VerifyJWS verifies a JWS voucher (General or flattened JSON serialization): exactly one
// signature, typ voucher-jws+json when present, the signer the first x5c certificate, and
// with o.Roots the x5c chain at o.Now.
func VerifyJWS(data []byte, o VerifyOptions) (Signed, error) {
	if len(data) > o.max() {
		return Signed{}, fmt.Errorf("voucher: %d bytes is more than %d", len(data), o.max())
	}
	if !json.Valid(data) {
		return Signed{}, errors.New("voucher: JWS is not JSON (the compact serialization is not used for vouchers)")
	}
	obj, err := jose.ParseSigned(string(data), jwsAlgs)
	if err != nil {
		return Signed{}, fmt.Errorf("voucher: JWS: %w", err)
	}
	if len(obj.Signatures) != 1 {
		return Signed{}, fmt.Errorf("voucher: JWS has %d signatures, not one", len(obj.Signatures))
	}
	if obj.Signatures[0].Unprotected.Algorithm != "" || len(obj.Signatures[0].Unprotected.ExtraHeaders) > 0 {
		return Signed{}, errors.New("voucher: JWS has an unprotected header")
	}
	certs, err := jwsCerts(data)
	if err != nil {
		return Signed{}, err
	}
	leaf := certs[0]
	payload, err := obj.Verify(leaf.PublicKey)
	if err != nil {
		return Signed{}, fmt.Errorf("voucher: JWS signature: %w", err)
	}
	if o.Roots != nil {
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: o.Roots, Intermediates: inter, CurrentTime: o.Now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return Signed{}, fmt.Errorf("voucher: JWS signer: %w", err)
		}
	}
	return Signed{Payload: payload, Signer: leaf, Certs: certs}, nil
}

// jwsCerts reads the typ and x5c of the one protected header of a JWS in JSON serialization
// (go-jose keeps x5c to itself).
func jwsCerts(data []byte) ([]*x509.Certificate, error) {
	var g struct {
		jwsGeneral
		Protected string `json:"protected"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("voucher: JWS: %w", err)
	}
	prot := g.Protected
	if len(g.Signatures) == 1 {
		prot = g.Signatures[0].Protected
	}
	raw, err := base64.RawURLEncoding.DecodeString(prot)
	if err != nil {
		return nil, fmt.Errorf("voucher: JWS protected header: %w", err)
	}
	var h struct {
		Typ *string  `json:"typ"`
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("voucher: JWS protected header: %w", err)
	}
	if h.Typ != nil && *h.Typ != jwsType {
		return nil, fmt.Errorf("voucher: JWS typ %q is not %s", *h.Typ, jwsType)
	}
	if len(h.X5c) == 0 || len(h.X5c) > 8 {
		return nil, errors.New("voucher: JWS protected header carries no x5c chain of 1 to 8 certificates")
	}
	certs := make([]*x509.Certificate, len(h.X5c))
	for i, s := range h.X5c {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("voucher: JWS x5c[%d]: %w", i, err)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("voucher: JWS x5c[%d]: %w", i, err)
		}
	}
	return certs, nil
}
