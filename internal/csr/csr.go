// Package csr parses certificate signing requests that devices send (outside input) and
// enforces Hallmark's key policy.
//
// Invariants: Parse never returns a request whose self-signature (proof of possession, RFC 2986
// section 3) does not verify, nor one whose key CheckKey refuses; input above MaxSize is refused
// before it is parsed. Every refusal is a failure.Invalid or failure.TooLarge error whose message
// names what was wrong and is safe to show to the sender.
//
// Key policy (CheckKey): ECDSA on P-256 or P-384, Ed25519, or RSA with a 2048 to 8192-bit
// modulus and public exponent 65537. P-521 is refused on purpose: it is not in the 802.1AR
// suites Hallmark issues for, several device TLS stacks and HSMs lack it, and it buys nothing
// over P-384 for device identities. P-224, RSA below 2048 bits, RSA above 8192 bits (a cheap
// way to make verification slow), other exponents, DSA and any other key type are refused.
package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// MaxSize is the largest request Parse reads, PEM or DER.
const MaxSize = 64 << 10

// RSA modulus bounds, in bits.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Parse reads a PKCS#10 request as DER or PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE
// REQUEST"), checks its signature and its key. It refuses trailing data after the request.
func Parse(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > MaxSize {
		return nil, failure.New(failure.TooLarge, "csr: %d bytes is over the %d-byte limit", len(data), MaxSize)
	}
	if len(data) == 0 {
		return nil, failure.New(failure.Invalid, "csr: empty")
	}
	der := data
	if t := bytes.TrimSpace(data); bytes.HasPrefix(t, []byte("-----BEGIN")) {
		blk, rest := pem.Decode(t)
		if blk == nil {
			return nil, failure.New(failure.Invalid, "csr: malformed PEM")
		}
		if blk.Type != "CERTIFICATE REQUEST" && blk.Type != "NEW CERTIFICATE REQUEST" {
			return nil, failure.New(failure.Invalid, "csr: PEM block is %q, want CERTIFICATE REQUEST", blk.Type)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, failure.New(failure.Invalid, "csr: data after the PEM block")
		}
		der = blk.Bytes
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "csr: not a PKCS#10 certificate request")
	}
	if len(req.Raw) != len(der) {
		return nil, failure.New(failure.Invalid, "csr: trailing data after the request")
	}
	if err := CheckKey(req.PublicKey); err != nil {
		return nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "csr: signature does not verify (no proof of possession)")
	}
	return req, nil
}

// CheckKey enforces the key policy described in the package documentation. It is used for
// device keys and for the keys of CAs Hallmark imports or creates.
func CheckKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return failure.New(failure.Invalid, "key: empty ECDSA key")
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
			return nil
		}
		return failure.New(failure.Invalid, "key: ECDSA on %s is not allowed; use P-256 or P-384", k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return failure.New(failure.Invalid, "key: Ed25519 key of %d bytes", len(k))
		}
		return nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return failure.New(failure.Invalid, "key: empty RSA key")
		}
		bits := k.N.BitLen()
		if bits < MinRSABits {
			return failure.New(failure.Invalid, "key: RSA-%d is too weak; at least %d bits are required", bits, MinRSABits)
		}
		if bits > MaxRSABits {
			return failure.New(failure.Invalid, "key: RSA-%d is too large; at most %d bits are allowed", bits, MaxRSABits)
		}
		if k.E != 65537 {
			return failure.New(failure.Invalid, "key: RSA public exponent %d is not allowed; it must be 65537", k.E)
		}
		return nil
	case nil:
		return failure.New(failure.Invalid, "key: missing or of an unknown algorithm")
	default:
		return failure.New(failure.Invalid, "key: %s keys are not allowed; use ECDSA P-256/P-384, Ed25519 or RSA 2048-8192", keyKind(pub))
	}
}

func keyKind(pub crypto.PublicKey) string {
	s := fmt.Sprintf("%T", pub)
	switch s {
	case "*dsa.PublicKey":
		return "DSA"
	case "*ecdh.PublicKey":
		return "ECDH"
	}
	return s
}

// ParseText accepts a CSR as PEM or as base64 DER (what JSON bodies and EST carry) and
// parses it with Parse.
func ParseText(s string) (*x509.CertificateRequest, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, failure.New(failure.Invalid, "csr is empty")
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		return Parse([]byte(s))
	}
	if len(s) > MaxSize*4/3+1024 {
		return nil, failure.New(failure.TooLarge, "csr is larger than %d bytes", MaxSize)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, failure.New(failure.Invalid, "csr is neither PEM nor base64 DER")
	}
	return Parse(der)
}
