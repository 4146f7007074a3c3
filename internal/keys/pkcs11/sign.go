//go:build pkcs11 && cgo

package pkcs11

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"io"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// signer is a private key in the token. It holds the key's CKA_ID and public key, nothing
// secret: Sign asks the token to sign.
type signer struct {
	t   *token
	id  []byte
	pub crypto.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest (for Ed25519: the message) in the token. For ECDSA it returns the ASN.1
// signature crypto/ecdsa does; for RSA, PKCS #1 v1.5 unless opts is *rsa.PSSOptions.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	mech, data, err := s.mechanism(digest, opts)
	if err != nil {
		return nil, err
	}
	var sig []byte
	err = s.t.do("sign", true, func(c *pkcs11.Ctx, sess pkcs11.SessionHandle, gen uint64) error {
		h, err := s.t.privateHandle(c, sess, gen, s.id)
		if err != nil {
			return err
		}
		if err = c.SignInit(sess, mech, h); err == nil {
			sig, err = c.Sign(sess, data)
		}
		if isHandleFault(err) {
			s.t.forget(s.id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, ok := s.pub.(*ecdsa.PublicKey); ok {
		return ecdsaDER(sig)
	}
	return sig, nil
}

// mechanism picks the mechanism and the data to give the token for one signature.
func (s *signer) mechanism(digest []byte, opts crypto.SignerOpts) ([]*pkcs11.Mechanism, []byte, error) {
	h := crypto.Hash(0)
	if opts != nil {
		h = opts.HashFunc()
	}
	switch s.pub.(type) {
	case ed25519.PublicKey:
		if h != 0 {
			return nil, nil, failure.New(failure.Invalid, "keys/pkcs11: Ed25519 signs the message itself, not a %s digest", h)
		}
		if o, ok := opts.(*ed25519.Options); ok && (o.Context != "" || o.Hash != 0) {
			return nil, nil, failure.New(failure.Invalid, "keys/pkcs11: only pure Ed25519 is supported, without context or pre-hash")
		}
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, nil)}, digest, nil
	}
	if h == 0 || !h.Available() || len(digest) != h.Size() {
		return nil, nil, failure.New(failure.Invalid, "keys/pkcs11: the digest is %d bytes, which does not match the hash %s", len(digest), h)
	}
	switch s.pub.(type) {
	case *ecdsa.PublicKey:
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, digest, nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			hashMech, mgf, ok := pssParams(h)
			if !ok {
				return nil, nil, failure.New(failure.Invalid, "keys/pkcs11: RSA-PSS with %s is not supported", h)
			}
			salt := pss.SaltLength
			if salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash {
				salt = h.Size()
			}
			if salt < 0 {
				return nil, nil, failure.New(failure.Invalid, "keys/pkcs11: RSA-PSS salt length %d is not valid", pss.SaltLength)
			}
			return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hashMech, mgf, uint(salt)))}, digest, nil
		}
		prefix, ok := digestInfoPrefix[h]
		if !ok {
			return nil, nil, failure.New(failure.Invalid, "keys/pkcs11: RSA PKCS #1 v1.5 with %s is not supported", h)
		}
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, append(append([]byte(nil), prefix...), digest...), nil
	}
	return nil, nil, failure.New(failure.Invalid, "keys/pkcs11: unsupported key type %T", s.pub)
}

func pssParams(h crypto.Hash) (hashMech, mgf uint, ok bool) {
	switch h {
	case crypto.SHA256:
		return pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, true
	case crypto.SHA384:
		return pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, true
	case crypto.SHA512:
		return pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, true
	}
	return 0, 0, false
}

// digestInfoPrefix is the DER DigestInfo before the digest, RFC 8017 section 9.2 note 1.
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// ecdsaDER turns the token's r||s (PKCS#11 v2.40 section 2.3.1) into the ASN.1
// Ecdsa-Sig-Value of RFC 3279 section 2.2.3.
func ecdsaDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, failure.New(failure.Unclassified, "keys/pkcs11: the token returned an ECDSA signature of %d bytes", len(raw))
	}
	n := len(raw) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
}
