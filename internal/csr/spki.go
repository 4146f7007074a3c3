package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"sync"
)

// SPKI is the DER SubjectPublicKeyInfo of pub (RFC 5280 section 4.1.2.7): the bytes
// x509.MarshalPKIXPublicKey returns, which it calls for any key but the common ones.
//
// Why not always MarshalPKIXPublicKey: it encodes through encoding/asn1's reflection, and each
// certificate Hallmark issues needs the encoding several times (its subject key identifier,
// the build record's key digest when the record is signed and whenever its binding is
// checked, a signing key's ID). In issue 21's profiles those calls cost about 17 µs per
// certificate. For an ECDSA key on P-256 or P-384 and for an Ed25519 key the encoding is a
// prefix fixed by the algorithm (and curve), then the key's point or bytes; the prefixes are
// taken once from MarshalPKIXPublicKey itself, so the two cannot disagree about the
// algorithm identifiers (TestSPKIMatchesX509).
func SPKI(pub crypto.PublicKey) ([]byte, error) {
	if prefix, bits := spkiParts(pub); prefix != nil {
		out := make([]byte, 0, len(prefix)+len(bits))
		return append(append(out, prefix...), bits...), nil
	}
	return x509.MarshalPKIXPublicKey(pub)
}

// PublicKeyBits is the content of SPKI(pub)'s subjectPublicKey BIT STRING (without its
// unused-bits octet): the uncompressed point of an ECDSA key, the 32 bytes of an Ed25519 key,
// the DER RSAPublicKey of an RSA key. RFC 5280's method 1 subject key identifier hashes it.
func PublicKeyBits(pub crypto.PublicKey) ([]byte, error) {
	if prefix, bits := spkiParts(pub); prefix != nil {
		return bits, nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return bitsOfSPKI(der)
}

// spkiParts splits SPKI(pub) into its fixed prefix (which ends with the BIT STRING's
// unused-bits octet) and the key's bits, for the keys that have a fixed prefix; nil, nil for
// the others and for a key whose point does not encode (MarshalPKIXPublicKey then gives the
// error it gives).
func spkiParts(pub crypto.PublicKey) (prefix, bits []byte) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil, nil
		}
		var p []byte
		switch k.Curve {
		case elliptic.P256():
			p = spkiPrefixes().p256
		case elliptic.P384():
			p = spkiPrefixes().p384
		default:
			return nil, nil
		}
		b, err := k.Bytes()
		if err != nil {
			return nil, nil
		}
		return p, b
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, nil
		}
		return spkiPrefixes().ed25519, k
	}
	return nil, nil
}

// prefixes are the SPKI prefixes of spkiParts.
type prefixes struct{ p256, p384, ed25519 []byte }

// spkiPrefixes derives the prefixes from MarshalPKIXPublicKey's encoding of one key of each
// kind (the curve's base point, a zero Ed25519 key): the encoding less the key's own bytes.
var spkiPrefixes = sync.OnceValue(func() prefixes {
	ec := func(c elliptic.Curve) []byte {
		k := &ecdsa.PublicKey{Curve: c, X: c.Params().Gx, Y: c.Params().Gy}
		b, err := k.Bytes()
		if err != nil {
			panic(fmt.Sprintf("csr: the base point of %s does not encode: %v", c.Params().Name, err))
		}
		return prefixOf(k, b)
	}
	return prefixes{p256: ec(elliptic.P256()), p384: ec(elliptic.P384()), ed25519: prefixOf(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)), make([]byte, ed25519.PublicKeySize))}
})

// prefixOf is MarshalPKIXPublicKey(pub) less its trailing bits, which it must end with.
func prefixOf(pub crypto.PublicKey, bits []byte) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil || !bytes.HasSuffix(der, bits) {
		panic(fmt.Sprintf("csr: MarshalPKIXPublicKey(%T) does not end with the key: %v", pub, err))
	}
	return der[:len(der)-len(bits)]
}

// bitsOfSPKI is the subjectPublicKey content of a DER SubjectPublicKeyInfo.
func bitsOfSPKI(der []byte) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(der, &spki)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("csr: trailing data after the SubjectPublicKeyInfo")
	}
	return spki.PublicKey.Bytes, nil
}
