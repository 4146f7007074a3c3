package operational

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ChallengeLife is how long a device has to sign a challenge.
const ChallengeLife = 5 * time.Minute

// Challenge is a fresh nonce for a device to sign with the key it proves: the factory key at
// onboarding, the current operational key at renewal.
type Challenge struct {
	ID        string    `json:"id"`
	Nonce     string    `json:"nonce"` // base64 of 32 random bytes; the device signs these bytes
	ExpiresAt time.Time `json:"expires_at"`
}

// NewChallenge issues a single-use challenge.
func (s *Service) NewChallenge(ctx context.Context) (Challenge, error) {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return Challenge{}, err
	}
	c := store.Challenge{ID: party.NewID("chl"), Nonce: nonce, Purpose: "possession", ExpiresAt: s.now().Add(ChallengeLife)}
	if err := s.c.Store.Update(ctx, func(tx store.Tx) error { return tx.Challenges().CreateChallenge(c) }); err != nil {
		return Challenge{}, err
	}
	return Challenge{ID: c.ID, Nonce: base64.StdEncoding.EncodeToString(nonce), ExpiresAt: c.ExpiresAt}, nil
}

// Proof is a signature over a challenge's nonce.
type Proof struct {
	ChallengeID string `json:"challenge_id"`
	// Signature is base64: ECDSA (ASN.1) or RSA PKCS#1 v1.5 over SHA-256 of the nonce, or
	// Ed25519 over the nonce itself — what `openssl dgst -sha256 -sign key` (or
	// `openssl pkeyutl -sign` for Ed25519) produces.
	Signature string `json:"signature"`
}

// checkProof consumes the challenge and verifies the signature with pub.
func checkProof(tx store.Tx, p Proof, pub crypto.PublicKey, now time.Time, what string) error {
	if p.ChallengeID == "" || p.Signature == "" {
		return failure.New(failure.Invalid, "proof of possession of the %s is missing: get a challenge, sign its nonce, send challenge_id and signature", what)
	}
	c, err := tx.Challenges().ConsumeChallenge(p.ChallengeID, now)
	if err != nil {
		if failure.Is(err, failure.NotFound) {
			return failure.New(failure.Invalid, "challenge %s is unknown, used or expired: get a new one", p.ChallengeID)
		}
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(p.Signature))
	if err != nil {
		return failure.New(failure.Invalid, "signature is not base64")
	}
	if !verify(pub, c.Nonce, sig) {
		return failure.New(failure.Invalid, "the challenge signature does not verify with the %s", what)
	}
	return nil
}

func verify(pub crypto.PublicKey, msg, sig []byte) bool {
	h := sha256.Sum256(msg)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, h[:], sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	}
	return false
}

// Limits of a presented chain: its PEM text, and the certificates read from it.
const (
	maxChainPEM   = 64 << 10
	maxChainCerts = 8
)

// presentedChain is how.Chain when the transport gave one, under the limits parseCertChain
// applies to the PEM the adapter would otherwise have encoded it to; else pemText parsed.
// It spares EST a PEM round trip and a second parse of every certificate of the TLS chain.
func presentedChain(pemText, what string, how Presented) ([]*x509.Certificate, error) {
	if len(how.Chain) == 0 {
		return parseCertChain(pemText, what)
	}
	size := 0
	for _, c := range how.Chain {
		size += pemSize(len(c.Raw))
	}
	if size > maxChainPEM {
		return nil, failure.New(failure.TooLarge, "%s is larger than 64 KiB", what)
	}
	return how.Chain[:min(len(how.Chain), maxChainCerts)], nil
}

// pemSize is the length of the PEM "CERTIFICATE" block of n bytes of DER as pem.Encode
// writes it: the BEGIN and END lines around base64 in lines of 64 characters.
func pemSize(n int) int {
	b64 := base64.StdEncoding.EncodedLen(n)
	return len("-----BEGIN CERTIFICATE-----\n") + b64 + (b64+63)/64 + len("-----END CERTIFICATE-----\n")
}

// parseCertChain reads PEM certificates: the first is the leaf.
func parseCertChain(s, what string) ([]*x509.Certificate, error) {
	if len(s) > maxChainPEM {
		return nil, failure.New(failure.TooLarge, "%s is larger than 64 KiB", what)
	}
	var out []*x509.Certificate
	rest := []byte(s)
	for len(out) < maxChainCerts {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, failure.New(failure.Invalid, "%s: expected CERTIFICATE PEM blocks, found %q", what, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, failure.New(failure.Invalid, "%s does not parse: %v", what, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, failure.New(failure.Invalid, "%s: no PEM certificate found", what)
	}
	return out, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	k, ok := a.(eq)
	return ok && k.Equal(b)
}
