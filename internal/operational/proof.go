package operational

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hallmark-id/hallmark/api/proof"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/certpem"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Purpose is what a challenge proves possession of a key for.
type Purpose string

// Purposes.
const (
	// PurposeOnboard proves the factory key at POST /v1/environments/{id}/onboard.
	PurposeOnboard Purpose = proof.PurposeOnboard
	// PurposeRenew proves the current operational key at POST /v1/renewals.
	PurposeRenew Purpose = proof.PurposeRenew
)

// ProofMessage is the canonical message a proof of possession signs: proof.Message, the
// one encoding the device side and the server share, with its refusals as failure.Invalid.
func ProofMessage(purpose Purpose, environmentID, nonce, csrKeySHA256 string) ([]byte, error) {
	msg, err := proof.Message(string(purpose), environmentID, nonce, csrKeySHA256)
	if err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "building the proof message")
	}
	return msg, nil
}

// KeySHA256 is proof.KeySHA256 with its refusal as failure.Invalid.
func KeySHA256(pub crypto.PublicKey) (string, error) {
	h, err := proof.KeySHA256(pub)
	if err != nil {
		return "", failure.Wrap(failure.Invalid, err, "naming the CSR key")
	}
	return h, nil
}

// Proof is a signature over a challenge's ProofMessage.
type Proof struct {
	ChallengeID string `json:"challenge_id"`
	// Signature is base64: ECDSA (ASN.1) or RSA PKCS#1 v1.5 over SHA-256 of the proof
	// message, or Ed25519 over the message itself — what `openssl dgst -sha256 -sign key`
	// (or `openssl pkeyutl -sign -rawin` for Ed25519) produces.
	Signature string `json:"signature"`
}

// Why a proof of possession or a challenge was refused: the reasons counted by
// PossessionCounts (hallmark_possession_refusals_total).
const (
	refusedDuty      = "challenge_duty"     // no duty over the environment (or no such certificate) at challenge time
	refusedLimit     = "challenge_limit"    // the principal holds the most live challenges allowed
	refusedMissing   = "proof_missing"      // no challenge ID or signature
	refusedUnusable  = "challenge_unusable" // unknown, another principal's, used or expired
	refusedMismatch  = "challenge_mismatch" // issued for another purpose, environment or CSR key
	refusedSignature = "signature"          // not base64, or does not verify with the presented key
)

var refusalReasons = []string{refusedDuty, refusedLimit, refusedMissing, refusedUnusable, refusedMismatch, refusedSignature}

// errNoProof is the one refusal of a request whose proof of possession fails, whatever the
// reason: it comes before anything about the device is read, so a caller without the key
// learns nothing of the device's custodian or state (issue 22). The reason is counted.
func errNoProof(purpose Purpose) error {
	what := "the factory key"
	if purpose == PurposeRenew {
		what = "the current operational key"
	}
	return failure.New(failure.Denied, "no valid proof of possession of %s: ask for a challenge (POST /v1/challenges) for purpose %s, this environment and the CSR's key, sign its proof message with %s, and send it once", what, purpose, what)
}

// proven consumes the caller's challenge and checks that it was issued for purpose (and, when
// envID is set, for that environment) and for csrKey, and that the proof's signature verifies
// with pub over its ProofMessage. The challenge is spent in a transaction of its own, so it
// serves one attempt whatever the outcome. Every failure is errNoProof.
func (s *Service) proven(ctx context.Context, a audit.Actor, p Proof, purpose Purpose, envID string, csrKey, pub crypto.PublicKey) (store.Challenge, error) {
	refuse := func(reason string) (store.Challenge, error) {
		s.refusals[reason].Add(1)
		return store.Challenge{}, errNoProof(purpose)
	}
	if p.ChallengeID == "" || p.Signature == "" || len(p.ChallengeID) > 64 || len(p.Signature) > 4096 {
		return refuse(refusedMissing)
	}
	keyHash, err := KeySHA256(csrKey)
	if err != nil {
		return store.Challenge{}, err
	}
	var c store.Challenge
	err = s.c.Store.Update(ctx, func(tx store.Tx) (err error) {
		c, err = tx.Challenges().ConsumeChallenge(p.ChallengeID, a.PrincipalID, s.now())
		return err
	})
	if failure.Is(err, failure.NotFound) {
		return refuse(refusedUnusable)
	} else if err != nil {
		return store.Challenge{}, fmt.Errorf("consuming challenge %s: %w", p.ChallengeID, err)
	}
	if Purpose(c.Purpose) != purpose || (envID != "" && c.EnvironmentID != envID) || hex.EncodeToString(c.KeySHA256) != keyHash {
		return refuse(refusedMismatch)
	}
	ok, err := VerifyProof(pub, purpose, c.EnvironmentID, base64.StdEncoding.EncodeToString(c.Nonce), keyHash, p.Signature)
	if err != nil {
		return store.Challenge{}, fmt.Errorf("challenge %s: %w", c.ID, err)
	}
	if !ok {
		return refuse(refusedSignature)
	}
	return c, nil
}

// VerifyProof reports whether signature (base64, as Proof.Signature carries it) is pub's
// signature over the ProofMessage of purpose, environmentID, nonce (base64, as a challenge
// carries it) and csrKeySHA256. It is the check onboarding and renewal make once the
// challenge matches, exported for device-side code and its tests to check what they send. A
// value ProofMessage refuses is an error (failure.Invalid); a signature that is not base64 or
// does not verify is false.
func VerifyProof(pub crypto.PublicKey, purpose Purpose, environmentID, nonce, csrKeySHA256, signature string) (bool, error) {
	msg, err := ProofMessage(purpose, environmentID, nonce, csrKeySHA256)
	if err != nil {
		return false, err
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	return err == nil && verify(pub, msg, sig), nil
}

// verify checks sig over msg with pub: ECDSA (ASN.1) or RSA PKCS#1 v1.5 over SHA-256 of msg,
// Ed25519 over msg itself.
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

// parseCertChain reads PEM certificates, the leaf first, under the chain limits.
func parseCertChain(s, what string) ([]*x509.Certificate, error) {
	return certpem.Parse([]byte(s), certpem.Options{What: what, MaxBytes: maxChainPEM, MaxCerts: maxChainCerts})
}

// transportChain holds a chain the transport received and parsed (EST: the TLS client
// chain, leaf first) to the limits parseCertChain applies to the PEM an adapter would
// otherwise have encoded it to. It spares EST a PEM round trip and a second parse.
func transportChain(chain []*x509.Certificate, what string) ([]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, failure.New(failure.Invalid, "%s: no certificate", what)
	}
	if len(chain) > maxChainCerts {
		return nil, failure.New(failure.TooLarge, "%s holds %d certificates, more than the limit of %d", what, len(chain), maxChainCerts)
	}
	size := 0
	for _, c := range chain {
		size += pemSize(len(c.Raw))
	}
	if size > maxChainPEM {
		return nil, failure.New(failure.TooLarge, "%s is larger than 64 KiB", what)
	}
	return chain, nil
}

// pemSize is the length of the PEM "CERTIFICATE" block of n bytes of DER as pem.Encode
// writes it: the BEGIN and END lines around base64 in lines of 64 characters.
func pemSize(n int) int {
	b64 := base64.StdEncoding.EncodedLen(n)
	return len("-----BEGIN CERTIFICATE-----\n") + b64 + (b64+63)/64 + len("-----END CERTIFICATE-----\n")
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	k, ok := a.(eq)
	return ok && k.Equal(b)
}
