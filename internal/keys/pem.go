package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.step.sm/crypto/pemutil"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// MaxPEMSize is the largest PEM input ParsePrivateKeyPEM and UnmarshalEncryptedPEM accept.
const MaxPEMSize = 64 << 10

// RSA key sizes accepted on import, in bits.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// ErrWrongPassphrase is the cause when an encrypted key does not decrypt: the passphrase is wrong
// or the data is corrupt (the two cannot be told apart).
var ErrWrongPassphrase = errors.New("wrong passphrase or corrupt file")

// signer hides the private key: it is the only crypto.Signer this package hands out, and it has
// no method or exported field that reveals key bytes.
type signer struct{ key crypto.Signer }

func (s *signer) Public() crypto.PublicKey { return s.key.Public() }

func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.key.Sign(rand, digest, opts)
}

// InProcess reports that the signature is computed in this process, by Go's crypto library,
// from a key held in memory (not by an HSM, a TPM or a remote service). buildrecord.Sign
// reads it through an interface of its own to skip re-verifying such signatures.
func (s *signer) InProcess() bool { return true }

// Generate makes a new key of the given algorithm and returns it as an opaque crypto.Signer.
func Generate(alg Algorithm) (crypto.Signer, error) {
	if err := alg.Validate(); err != nil {
		return nil, err
	}
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case ECDSAP256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case RSA3072:
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generating %s key: %w", alg, err)
	}
	return &signer{key: k}, nil
}

// MarshalEncryptedPEM returns s, which must come from Generate, ParsePrivateKeyPEM or
// UnmarshalEncryptedPEM, as an "ENCRYPTED PRIVATE KEY" PEM block: PKCS#8 under PBES2 with
// PBKDF2-HMAC-SHA256 (600,000 iterations, 16-byte salt) and AES-256-CBC, which OpenSSL 3 reads
// with `openssl pkey -passin`. The passphrase must not be empty.
func MarshalEncryptedPEM(s crypto.Signer, passphrase []byte) ([]byte, error) {
	k, ok := s.(*signer)
	if !ok {
		return nil, errors.New("keys: can only marshal a key made or parsed by package keys")
	}
	if len(passphrase) == 0 {
		return nil, failure.New(failure.Invalid, "keys: refusing to write a key without a passphrase")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding the key as PKCS#8: %w", err)
	}
	defer clear(der)
	// PEMCipherAES256 only selects the cipher; the scheme is PBES2 (RFC 8018), not RFC 1423.
	block, err := pemutil.EncryptPKCS8PrivateKey(rand.Reader, der, passphrase, x509.PEMCipherAES256)
	if err != nil {
		return nil, fmt.Errorf("keys: encrypting the key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// UnmarshalEncryptedPEM reads a key written by MarshalEncryptedPEM (or any PBES2/AES-CBC
// "ENCRYPTED PRIVATE KEY"). It refuses anything unencrypted. A wrong passphrase gives an error
// wrapping ErrWrongPassphrase.
func UnmarshalEncryptedPEM(pemData, passphrase []byte) (crypto.Signer, error) {
	return parsePEM(pemData, passphrase, MaxPBKDF2Iterations, true)
}

// ParsePrivateKeyPEM parses one private key for import and applies the key policy. pemData may
// hold other blocks (such as "EC PARAMETERS" or certificates), which are skipped, but exactly one
// private key, as:
//   - "PRIVATE KEY" (PKCS#8),
//   - "EC PRIVATE KEY" (SEC1),
//   - "RSA PRIVATE KEY" (PKCS#1), or
//   - "ENCRYPTED PRIVATE KEY" (PKCS#8 under PBES2 with PBKDF2 and AES-CBC, as written by
//     `openssl pkcs8 -topk8 -v2 aes-256-cbc`), opened with passphrase.
//
// Legacy "Proc-Type: 4,ENCRYPTED" PEM encryption, PBES1 and DES/3DES are refused. So are weak or
// unknown keys: RSA below MinRSABits or above MaxRSABits, ECDSA on curves other than P-256 and
// P-384, and keys that cannot sign (such as X25519). Every refusal is a failure.Invalid error
// (failure.TooLarge above MaxPEMSize); a wrong passphrase wraps ErrWrongPassphrase.
//
// The returned signer is opaque; MarshalEncryptedPEM can store it.
func ParsePrivateKeyPEM(pemData, passphrase []byte) (crypto.Signer, error) {
	return parsePEM(pemData, passphrase, MaxPBKDF2Iterations, false)
}

func parsePEM(data, passphrase []byte, maxIter int, encryptedOnly bool) (crypto.Signer, error) {
	if len(data) > MaxPEMSize {
		return nil, failure.New(failure.TooLarge, "keys: the key PEM is %d bytes, more than %d", len(data), MaxPEMSize)
	}
	var found *pem.Block
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if !strings.Contains(b.Type, "PRIVATE KEY") {
			continue
		}
		if found != nil {
			return nil, failure.New(failure.Invalid, "keys: the PEM holds more than one private key; give one")
		}
		found = b
	}
	if found == nil {
		return nil, failure.New(failure.Invalid, "keys: no PEM private key found")
	}
	if _, ok := found.Headers["Proc-Type"]; ok {
		return nil, failure.New(failure.Invalid, "keys: legacy PEM encryption (Proc-Type header) is not supported; convert the key with `openssl pkcs8 -topk8 -v2 aes-256-cbc`")
	}
	if encryptedOnly && found.Type != "ENCRYPTED PRIVATE KEY" {
		return nil, failure.New(failure.Invalid, "keys: expected an ENCRYPTED PRIVATE KEY, found %q", found.Type)
	}
	var (
		key any
		err error
	)
	switch found.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(found.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(found.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(found.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		if len(passphrase) == 0 {
			return nil, failure.New(failure.Invalid, "keys: the key is encrypted; its passphrase is needed")
		}
		der, derr := decryptPBES2(found.Bytes, passphrase, maxIter)
		if derr != nil {
			return nil, derr
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
		clear(der)
		if err != nil {
			// A wrong passphrase passes the padding check about one time in 256.
			return nil, failure.Wrap(failure.Invalid, ErrWrongPassphrase, "keys: decrypting the key")
		}
	default:
		return nil, failure.New(failure.Invalid, "keys: unsupported PEM block %q (want PRIVATE KEY, EC PRIVATE KEY, RSA PRIVATE KEY or ENCRYPTED PRIVATE KEY)", found.Type)
	}
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "keys: malformed "+found.Type)
	}
	return checkKey(key)
}

// checkKey applies the key policy and wraps an acceptable key.
func checkKey(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, failure.New(failure.Invalid, "keys: ECDSA curve %s is not allowed; use P-256 or P-384", curveName(k.Curve))
		}
		return &signer{key: k}, nil
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		if bits < MinRSABits {
			return nil, failure.New(failure.Invalid, "keys: RSA-%d is too weak; use at least %d bits", bits, MinRSABits)
		}
		if bits > MaxRSABits {
			return nil, failure.New(failure.Invalid, "keys: RSA-%d is larger than the %d bits supported", bits, MaxRSABits)
		}
		return &signer{key: k}, nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, failure.New(failure.Invalid, "keys: malformed Ed25519 key")
		}
		return &signer{key: k}, nil
	default:
		return nil, failure.New(failure.Invalid, "keys: unsupported key type %T; want ECDSA P-256/P-384, Ed25519 or RSA", key)
	}
}

func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "(unknown)"
	}
	return c.Params().Name
}
