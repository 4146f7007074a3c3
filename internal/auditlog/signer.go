package auditlog

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// NoteSigner is a note.Signer over a crypto.Signer holding an Ed25519 key.
//
// note.NewSigner wants the private key itself, encoded as a note key string. Hallmark's keys
// never leave internal/keys (STYLE rule 5: a key is only ever a crypto.Signer behind a
// provider, possibly in an HSM), so this signer implements the three-method note.Signer
// interface over crypto.Signer instead. Signatures are plain Ed25519 over the note text, as
// note's own Ed25519 signer makes them, so note.NewVerifier with VerifierKey checks them.
type NoteSigner struct {
	name string
	hash uint32
	vkey string
	s    crypto.Signer
}

var _ note.Signer = (*NoteSigner)(nil)

// NewNoteSigner returns a signer named name (the checkpoint origin) over s, which must hold
// an Ed25519 key.
func NewNoteSigner(name string, s crypto.Signer) (*NoteSigner, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("auditlog: the checkpoint key must be Ed25519, not %T", s.Public())
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("auditlog: checkpoint key name %q: %w", name, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return &NoteSigner{name: name, hash: v.KeyHash(), vkey: vkey, s: s}, nil
}

// Name is the key name (the log origin).
func (n *NoteSigner) Name() string { return n.name }

// KeyHash is the note key hash of the public key.
func (n *NoteSigner) KeyHash() uint32 { return n.hash }

// Sign signs msg with Ed25519 (no pre-hashing).
func (n *NoteSigner) Sign(msg []byte) ([]byte, error) {
	return n.s.Sign(rand.Reader, msg, crypto.Hash(0))
}

// VerifierKey is the note verifier key ("<name>+<hash>+<base64 key>") that checks this
// signer's notes; it is public.
func (n *NoteSigner) VerifierKey() string { return n.vkey }
