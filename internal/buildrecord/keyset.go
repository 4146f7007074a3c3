package buildrecord

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"strconv"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// A key set is a manufacturer's build-record key history: the current key and the keys that
// rotations retired, each still verifying what it signed (a signature's keyid names its key).
// As a file it is one or more "PUBLIC KEY" PEM blocks, the current key first.

// MaxKeys bounds a key set: enough for a rotation a month for five years.
const MaxKeys = 64

// MaxKeySetSize bounds a key set file, checked before parsing.
const MaxKeySetSize = MaxKeys * 1024

// ParsePublicKeysPEM decodes a key set: 1 to MaxKeys "PUBLIC KEY" PEM blocks, each an ECDSA
// P-256, ECDSA P-384 or Ed25519 key, with only whitespace between and after them. A single
// key file (ParsePublicKeyPEM's input) is a key set of one. Anything else is failure.Invalid
// (failure.TooLarge beyond MaxKeySetSize).
func ParsePublicKeysPEM(data []byte) ([]crypto.PublicKey, error) {
	if len(data) > MaxKeySetSize {
		return nil, failure.New(failure.TooLarge, "build record key set: %d bytes is over the limit of %d", len(data), MaxKeySetSize)
	}
	var out []crypto.PublicKey
	rest := data
	for len(bytes.TrimSpace(rest)) > 0 {
		if len(out) == MaxKeys {
			return nil, failure.New(failure.Invalid, "build record key set: more than %d keys", MaxKeys)
		}
		blk, next := pem.Decode(rest)
		if blk == nil {
			return nil, failure.New(failure.Invalid, "build record key set: key %d: not a PEM block", len(out)+1)
		}
		pub, err := ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: blk.Bytes}))
		if err != nil {
			return nil, failure.Wrap(failure.Invalid, err, "build record key set: key "+strconv.Itoa(len(out)+1))
		}
		out = append(out, pub)
		rest = next
	}
	if len(out) == 0 {
		return nil, failure.New(failure.Invalid, "build record key set: no PEM block")
	}
	return out, nil
}

// verifiers returns one dsse verifier per distinct key of pubs, with their keyids.
func verifiers(pubs []crypto.PublicKey) ([]dsse.Verifier, []string, error) {
	if len(pubs) == 0 {
		return nil, nil, failure.New(failure.Invalid, "build record: no verification key")
	}
	if len(pubs) > MaxKeys {
		return nil, nil, failure.New(failure.Invalid, "build record: %d verification keys; at most %d", len(pubs), MaxKeys)
	}
	var vs []dsse.Verifier
	var ids []string
	seen := map[string]bool{}
	for _, pub := range pubs {
		v, err := newVerifier(pub)
		if err != nil {
			return nil, nil, err
		}
		if seen[v.keyID] {
			continue
		}
		seen[v.keyID] = true
		vs = append(vs, v)
		ids = append(ids, v.keyID)
	}
	return vs, ids, nil
}
