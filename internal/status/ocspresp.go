package status

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Fixed OCSPResponse bodies for the error statuses (RFC 6960 section 4.2.1): they carry no
// responseBytes and no signature.
var (
	respMalformed    = []byte{0x30, 0x03, 0x0a, 0x01, 0x01}
	respInternal     = []byte{0x30, 0x03, 0x0a, 0x01, 0x02}
	respTryLater     = []byte{0x30, 0x03, 0x0a, 0x01, 0x03}
	respUnauthorized = []byte{0x30, 0x03, 0x0a, 0x01, 0x06}
)

// certStatus is what a SingleResponse says about a certificate.
type certStatus struct {
	kind      statusKind
	revokedAt time.Time
	reason    int // RFC 5280 CRLReason; 0 is left out
}

type statusKind int

const (
	good statusKind = iota
	revoked
	unknown
)

func (k statusKind) String() string { return [...]string{"good", "revoked", "unknown"}[k] }

var oidBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// signer signs OCSP responses as one delegated responder.
type signer struct {
	cert    *x509.Certificate
	key     crypto.Signer
	keyHash []byte // SHA-1 of the responder's subjectPublicKey, its ResponderID byKey
	hash    crypto.Hash
	sigAlg  []byte // DER AlgorithmIdentifier
	// renewAt is when a new responder certificate should take over.
	renewAt time.Time
}

func newSigner(cert *x509.Certificate, key crypto.Signer, renewAt time.Time) (*signer, error) {
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("responder key: %w", err)
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	s := &signer{cert: cert, key: key, keyHash: h[:], renewAt: renewAt}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	switch {
	case ok && pub.Curve == elliptic.P256():
		s.hash, s.sigAlg = crypto.SHA256, []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	case ok && pub.Curve == elliptic.P384():
		s.hash, s.sigAlg = crypto.SHA384, []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}
	default:
		return nil, fmt.Errorf("responder key: only ECDSA P-256 and P-384 responder keys are supported, not %T", key.Public())
	}
	return s, nil
}

// sign returns a successful OCSPResponse with one SingleResponse (RFC 6960 section 4.2.1):
// responderID byKey, the request's CertID echoed, and the nonce extension echoed when the
// request had one. The responder certificate travels in certs so that clients can check the
// delegation (section 4.2.2.2).
func (s *signer) sign(certID []byte, st certStatus, thisUpdate, nextUpdate, producedAt time.Time, nonce []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ResponseData
		b.AddASN1(tag2, func(b *cryptobyte.Builder) { b.AddASN1OctetString(s.keyHash) })
		b.AddASN1GeneralizedTime(producedAt.UTC().Truncate(time.Second))
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SingleResponse
				b.AddBytes(certID)
				switch st.kind {
				case good:
					b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
				case unknown:
					b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {})
				case revoked:
					b.AddASN1(tag1, func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(st.revokedAt.UTC().Truncate(time.Second))
						if st.reason != 0 {
							b.AddASN1(tag0, func(b *cryptobyte.Builder) { b.AddASN1Enum(int64(st.reason)) })
						}
					})
				}
				b.AddASN1GeneralizedTime(thisUpdate.UTC().Truncate(time.Second))
				b.AddASN1(tag0, func(b *cryptobyte.Builder) { b.AddASN1GeneralizedTime(nextUpdate.UTC().Truncate(time.Second)) })
			})
		})
		if nonce != nil {
			b.AddASN1(tag1, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidNonce)
						b.AddASN1OctetString(nonce)
					})
				})
			})
		}
	})
	tbs, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("OCSP response: encoding: %w", err)
	}
	h := s.hash.New()
	h.Write(tbs)
	sig, err := s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
	if err != nil {
		return nil, fmt.Errorf("OCSP response: signing: %w", err)
	}
	var basic cryptobyte.Builder
	basic.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(s.sigAlg)
		b.AddASN1BitString(sig)
		b.AddASN1(tag0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(s.cert.Raw) })
		})
	})
	basicDER, err := basic.Bytes()
	if err != nil {
		return nil, err
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Enum(0) // successful
		b.AddASN1(tag0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidBasic)
				b.AddASN1OctetString(basicDER)
			})
		})
	})
	return out.Bytes()
}
