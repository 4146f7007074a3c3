// Package proof is the proof-of-possession message of Hallmark's API: the bytes a device signs
// with the key it proves, built the same way by the device side (package client, or any
// other implementation) and by the server. It imports only the standard library, so the
// server's services and outside clients can share it.
package proof

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Purposes a challenge proves possession of a key for (api.ChallengeRequest.Purpose).
const (
	// PurposeOnboard proves the factory key at POST /v1/environments/{id}/onboard.
	PurposeOnboard = "onboard"
	// PurposeRenew proves the current operational key at POST /v1/renewals.
	PurposeRenew = "renew"
)

// Version starts every proof message; a new encoding gets a new line.
const Version = "hallmark-proof-of-possession-v1"

// Message is the canonical message a proof of possession signs (docs/design.md, *Proof
// of possession*): five lines, each ending in "\n", in this order:
//
//	hallmark-proof-of-possession-v1
//	purpose:<onboard or renew>
//	environment:<environment ID>
//	nonce:<the challenge's nonce, base64 as the server sent it>
//	csr-key-sha256:<lowercase hex SHA-256 of the DER SubjectPublicKeyInfo of the CSR's key>
//
// The first line separates it from anything else a device key signs; no value may hold a
// byte outside [A-Za-z0-9+/=_.-], so no value can end its line early and two different sets
// of values never give the same message. It refuses values that break that rule.
func Message(purpose, environmentID, nonce, csrKeySHA256 string) ([]byte, error) {
	fields := [...]struct{ name, v string }{
		{"purpose", purpose}, {"environment", environmentID}, {"nonce", nonce}, {"csr-key-sha256", csrKeySHA256},
	}
	var b strings.Builder
	b.WriteString(Version + "\n")
	for _, f := range fields {
		if !proofValue.MatchString(f.v) {
			return nil, fmt.Errorf("proof message: %s %q is empty, longer than 128 characters or holds a character outside [A-Za-z0-9+/=_.-]", f.name, f.v)
		}
		b.WriteString(f.name + ":" + f.v + "\n")
	}
	return []byte(b.String()), nil
}

var proofValue = regexp.MustCompile(`^[A-Za-z0-9+/=_.-]{1,128}$`)

// KeySHA256 is the lowercase hex SHA-256 of pub's DER SubjectPublicKeyInfo: what a challenge
// and its proof name the CSR's key by.
func KeySHA256(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding the CSR's public key: %w", err)
	}
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:]), nil
}
