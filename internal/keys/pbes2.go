package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"hash"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// MaxPBKDF2Iterations bounds the work an encrypted key can ask for: above the defaults of the
// tools that write such keys (OpenSSL 2,048; pemutil and MarshalEncryptedPEM 600,000) and
// OWASP's 2023 advice for PBKDF2-HMAC-SHA256 (600,000), low enough that a hostile file costs at
// most about half a second of one core. A key asking for more is refused before any derivation.
const MaxPBKDF2Iterations = 1_000_000

// Object identifiers from RFC 8018 (PKCS #5 v2.1), appendices A and B, and NIST AES.
var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// EncryptedPrivateKeyInfo, RFC 5958 section 3.
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// PBES2-params, RFC 8018 appendix A.4.
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// PBKDF2-params, RFC 8018 appendix A.2, with the salt as the "specified" OCTET STRING choice.
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"` // absent means hmacWithSHA1
}

func invalidEncrypted(what string) error {
	return failure.New(failure.Invalid, "keys: unsupported or malformed ENCRYPTED PRIVATE KEY: %s; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", what)
}

// decryptPBES2 decrypts an EncryptedPrivateKeyInfo protected by PBES2 (RFC 8018 section 6.2) with
// PBKDF2 and AES-CBC, returning the PKCS#8 DER. Everything is checked before any decryption, so
// malformed input is an error, never a panic or unbounded work.
func decryptPBES2(der, passphrase []byte, maxIter int) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, invalidEncrypted("bad ASN.1")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, invalidEncrypted("only PBES2 is supported, not " + info.Algorithm.Algorithm.String())
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return nil, invalidEncrypted("bad PBES2 parameters")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, invalidEncrypted("only the PBKDF2 key derivation is supported")
	}
	var kdf pbkdf2Params
	if rest, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil || len(rest) != 0 {
		return nil, invalidEncrypted("bad PBKDF2 parameters")
	}
	if kdf.IterationCount < 1 {
		return nil, invalidEncrypted("PBKDF2 iteration count out of range")
	}
	if kdf.IterationCount > maxIter {
		return nil, failure.New(failure.Invalid, "keys: the ENCRYPTED PRIVATE KEY asks for %d PBKDF2 iterations, more than the %d allowed; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000`", kdf.IterationCount, maxIter)
	}
	var prf func() hash.Hash
	switch p := kdf.PRF.Algorithm; {
	case len(p) == 0, p.Equal(oidHMACSHA1):
		prf = sha1.New
	case p.Equal(oidHMACSHA224):
		prf = sha256.New224
	case p.Equal(oidHMACSHA256):
		prf = sha256.New
	case p.Equal(oidHMACSHA384):
		prf = sha512.New384
	case p.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, invalidEncrypted("unknown PBKDF2 PRF " + p.String())
	}
	var keyLen int
	switch s := params.EncryptionScheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen = 16
	case s.Equal(oidAES192CBC):
		keyLen = 24
	case s.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, invalidEncrypted("only AES-CBC is supported, not " + s.String())
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, invalidEncrypted("PBKDF2 key length does not match the cipher")
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 || len(iv) != aes.BlockSize {
		return nil, invalidEncrypted("bad AES-CBC IV")
	}
	ct := info.EncryptedData
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, invalidEncrypted("ciphertext is not whole AES blocks")
	}

	key, err := pbkdf2.Key(prf, string(passphrase), kdf.Salt, kdf.IterationCount, keyLen)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "keys: deriving the key-encryption key")
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "keys: deriving the key-encryption key")
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)

	// PKCS #7 padding (RFC 8018 section 6.1.1 step 4). A wrong passphrase almost always breaks it.
	n := int(out[len(out)-1])
	if n == 0 || n > aes.BlockSize {
		clear(out)
		return nil, failure.Wrap(failure.Invalid, ErrWrongPassphrase, "keys: decrypting the key")
	}
	for _, b := range out[len(out)-n:] {
		if int(b) != n {
			clear(out)
			return nil, failure.Wrap(failure.Invalid, ErrWrongPassphrase, "keys: decrypting the key")
		}
	}
	return out[:len(out)-n], nil
}
