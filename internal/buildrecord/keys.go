package buildrecord

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/csr"
	"github.com/hallmark-id/hallmark/internal/failure"
)

// SubjectKeyDigest returns the SHA-256 of pub's DER SubjectPublicKeyInfo: the digest of a build
// record's subject.
func SubjectKeyDigest(pub crypto.PublicKey) ([32]byte, error) {
	der, err := csr.SPKI(pub)
	if err != nil {
		return [32]byte{}, failure.Wrap(failure.Invalid, err, "build record: unusable device public key")
	}
	return sha256.Sum256(der), nil
}

// KeyID returns the keyid Hallmark puts in build record signatures: the lowercase hex SHA-256
// of the signing key's DER SubjectPublicKeyInfo.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := csr.SPKI(pub)
	if err != nil {
		return "", failure.Wrap(failure.Invalid, err, "build record: unusable signing public key")
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// scheme is how one key type signs a PAE: the hash applied first (0 for Ed25519, which signs
// the message itself).
type scheme struct {
	hash crypto.Hash
	new  func() hash.Hash
}

// schemeFor returns the signature scheme of pub, or failure.Invalid for an unsupported key.
func schemeFor(pub crypto.PublicKey) (scheme, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return scheme{crypto.SHA256, sha256.New}, nil
		case elliptic.P384():
			return scheme{crypto.SHA384, sha512.New384}, nil
		}
		return scheme{}, failure.New(failure.Invalid, "build record: ECDSA curve %s is not supported; use P-256 or P-384", k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return scheme{}, failure.New(failure.Invalid, "build record: Ed25519 key of %d bytes", len(k))
		}
		return scheme{}, nil
	}
	return scheme{}, failure.New(failure.Invalid, "build record: %T keys are not supported; use ECDSA P-256, P-384 or Ed25519", pub)
}

// CheckKey reports whether pub is a key type DSSE envelopes here may be signed with (ECDSA
// P-256 or P-384, Ed25519); failure.Invalid otherwise. Other DSSE formats of Hallmark (custody
// vouchers) sign with the same keys and the same scheme, so they use CheckKey, SignPAE and
// VerifyPAE rather than a copy of them.
func CheckKey(pub crypto.PublicKey) error {
	_, err := schemeFor(pub)
	return err
}

// SignPAE signs data (a DSSE PAE) with signer: ECDSA over its SHA-256 or SHA-384 with an ASN.1
// signature, Ed25519 over the data itself.
func SignPAE(signer crypto.Signer, data []byte) ([]byte, error) {
	sv, err := newSignerVerifier(signer)
	if err != nil {
		return nil, err
	}
	return sv.Sign(context.Background(), data)
}

// VerifyPAE reports whether sig is pub's signature over data (a DSSE PAE), as SignPAE makes it.
func VerifyPAE(pub crypto.PublicKey, data, sig []byte) bool {
	v, err := newVerifier(pub)
	return err == nil && v.Verify(context.Background(), data, sig) == nil
}

// verifier is a dsse.Verifier for one public key.
type verifier struct {
	pub   crypto.PublicKey
	keyID string
	s     scheme
}

var _ dsse.Verifier = (*verifier)(nil)

func newVerifier(pub crypto.PublicKey) (*verifier, error) {
	s, err := schemeFor(pub)
	if err != nil {
		return nil, err
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &verifier{pub: pub, keyID: id, s: s}, nil
}

func (v *verifier) KeyID() (string, error)   { return v.keyID, nil }
func (v *verifier) Public() crypto.PublicKey { return v.pub }

// Verify checks sig over data (a PAE).
func (v *verifier) Verify(_ context.Context, data, sig []byte) error {
	switch k := v.pub.(type) {
	case *ecdsa.PublicKey:
		h := v.s.new()
		h.Write(data)
		if !ecdsa.VerifyASN1(k, h.Sum(nil), sig) {
			return errors.New("ECDSA signature does not verify")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, data, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
	default:
		return fmt.Errorf("unsupported key %T", v.pub)
	}
	return nil
}

// signerVerifier is a dsse.SignerVerifier over a crypto.Signer.
type signerVerifier struct {
	*verifier
	signer crypto.Signer
}

var _ dsse.SignerVerifier = (*signerVerifier)(nil)

func newSignerVerifier(signer crypto.Signer) (*signerVerifier, error) {
	if signer == nil {
		return nil, failure.New(failure.Invalid, "build record: no signing key")
	}
	v, err := newVerifier(signer.Public())
	if err != nil {
		return nil, err
	}
	return &signerVerifier{verifier: v, signer: signer}, nil
}

// Sign signs data (a PAE): ECDSA over its SHA-256 or SHA-384 with an ASN.1 signature, Ed25519
// over the data itself.
func (s *signerVerifier) Sign(_ context.Context, data []byte) ([]byte, error) {
	digest := data
	if s.s.hash != 0 {
		h := s.s.new()
		h.Write(data)
		digest = h.Sum(nil)
	}
	return s.signer.Sign(rand.Reader, digest, s.s.hash)
}

// MarshalPublicKeyPEM encodes a build-record verification key as a "PUBLIC KEY" PEM block
// (PKIX SubjectPublicKeyInfo), the form `hallmark buildrecord verify --key` reads.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := schemeFor(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "build record: unusable public key")
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM decodes exactly one "PUBLIC KEY" PEM block holding an ECDSA P-256, ECDSA
// P-384 or Ed25519 key. Anything else, including text after the block, is failure.Invalid.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	if len(data) > MaxRecordSize {
		return nil, failure.New(failure.TooLarge, "build record key: %d bytes is over the limit of %d", len(data), MaxRecordSize)
	}
	blk, rest := pem.Decode(data)
	if blk == nil {
		return nil, failure.New(failure.Invalid, "build record key: no PEM block")
	}
	if blk.Type != "PUBLIC KEY" {
		return nil, failure.New(failure.Invalid, "build record key: PEM block is %q, want \"PUBLIC KEY\"", blk.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, failure.New(failure.Invalid, "build record key: data after the PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "build record key: not a PKIX public key")
	}
	if _, err := schemeFor(pub); err != nil {
		return nil, err
	}
	return pub, nil
}
