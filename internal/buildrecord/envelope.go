package buildrecord

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// statement is an in-toto Statement v1 with a build record as its predicate.
type statement struct {
	Type          string    `json:"_type"`
	Subject       []subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     *Record   `json:"predicate"`
}

// subject is an in-toto ResourceDescriptor restricted to a name and a sha256 digest.
type subject struct {
	Name   string `json:"name"`
	Digest Digest `json:"digest"`
}

// Verified is a build record whose signature and statement have been checked.
type Verified struct {
	Record           *Record
	SubjectKeySHA256 [32]byte // SHA-256 of the device key's SubjectPublicKeyInfo, from the subject
	PayloadDigest    [32]byte // SHA-256 of the payload bytes; the factory certificate carries it
	KeyID            string   // keyid of the signature that verified
}

// Sign validates r, encodes it as an in-toto statement about devicePub and signs it with signer
// in a DSSE envelope. It returns the envelope and the SHA-256 of its payload, which the factory
// certificate carries. signer must hold an ECDSA P-256, ECDSA P-384 or Ed25519 key; unless
// signer is one of Go's own in-process keys (needsSelfCheck), each signature is checked
// against signer.Public() before Sign returns.
func Sign(ctx context.Context, r *Record, devicePub crypto.PublicKey, signer crypto.Signer) (*dsse.Envelope, [32]byte, error) {
	if r == nil {
		return nil, [32]byte{}, failure.New(failure.Invalid, "build record: missing")
	}
	if err := r.Validate(); err != nil {
		return nil, [32]byte{}, err
	}
	subjectKey, err := SubjectKeyDigest(devicePub)
	if err != nil {
		return nil, [32]byte{}, err
	}
	sv, err := newSignerVerifier(signer)
	if err != nil {
		return nil, [32]byte{}, err
	}
	rec := *r
	if rec.Components == nil {
		rec.Components = []Component{} // "components": [] rather than null
	}
	payload, err := encodeStatement(&statement{
		Type:          StatementType,
		Subject:       []subject{{Name: SubjectPrefix + r.Serial, Digest: Digest{SHA256: hex.EncodeToString(subjectKey[:])}}},
		PredicateType: PredicateType,
		Predicate:     &rec,
	})
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("encoding the build record statement: %w", err)
	}
	if len(payload) > MaxPayloadSize {
		return nil, [32]byte{}, failure.New(failure.TooLarge, "build record: statement of %d bytes is over the limit of %d", len(payload), MaxPayloadSize)
	}
	es, err := dsse.NewEnvelopeSigner(sv)
	if err != nil {
		return nil, [32]byte{}, err
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("signing the build record: %w", err)
	}
	if !needsSelfCheck(signer) {
		return env, sha256.Sum256(payload), nil
	}
	pae := dsse.PAE(PayloadType, payload)
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err == nil {
			err = sv.Verify(ctx, pae, sig)
		}
		if err != nil {
			return nil, [32]byte{}, fmt.Errorf("checking the build record signature just made: %w", err)
		}
	}
	return env, sha256.Sum256(payload), nil
}

// inProcessSigner is a signer that says whether it computes signatures in this process with
// Go's crypto library (internal/keys' software keys do).
type inProcessSigner interface{ InProcess() bool }

// needsSelfCheck reports whether Sign must verify the signature signer just made. It does for
// every signer but Go's own software keys: *ecdsa.PrivateKey, ed25519.PrivateKey, and a signer
// reporting InProcess (the file key backend's). A PKCS#11 token, a TPM, a remote or wrapped
// signer returns bytes Hallmark did not compute: the wrong key in a slot, the wrong hash or
// padding mode, a truncated or garbled answer; storing such a record would bind a certificate
// to a record no one can verify, so the check stays for them. A Go software key signs here, in
// this process, with the crypto library that would verify, using the private key whose
// public half the verifier holds: the check could catch only a CPU or memory fault, at the
// price of a P-256 verification per certificate, costlier than the signature (BENCHMARKS.md,
// issue 21). Such a fault is no likelier here than anywhere else in the process, and the
// record is verified again wherever it is used: operational onboarding, custody vouchers,
// drift reports and `hallmark buildrecord verify` all call VerifyKeys.
func needsSelfCheck(signer crypto.Signer) bool {
	switch s := signer.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
		return false
	case inProcessSigner:
		return !s.InProcess()
	}
	return true
}

// encodeStatement encodes st once, without HTML escaping, with no trailing newline.
func encodeStatement(st *statement) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParseEnvelope decodes a DSSE envelope holding a build record. It checks the form, not the
// signatures (see Verify): payloadType is PayloadType, the payload and every signature are
// base64 (standard or URL-safe, as DSSE allows), and there are 1 to MaxSignatures signatures.
// As DSSE requires, unrecognised envelope fields are ignored; they are not signed.
func ParseEnvelope(data []byte) (*dsse.Envelope, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, failure.New(failure.TooLarge, "build record envelope: %d bytes is over the limit of %d", len(data), MaxEnvelopeSize)
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&env); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "build record envelope: malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, failure.New(failure.Invalid, "build record envelope: trailing data after the JSON value")
	}
	if _, err := checkEnvelope(&env); err != nil {
		return nil, err
	}
	return &env, nil
}

// checkEnvelope checks the form of env and returns its decoded payload.
func checkEnvelope(env *dsse.Envelope) ([]byte, error) {
	if env == nil {
		return nil, failure.New(failure.Invalid, "build record envelope: missing")
	}
	if env.PayloadType != PayloadType {
		return nil, failure.New(failure.Invalid, "build record envelope: payloadType is %q, want %q", env.PayloadType, PayloadType)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, failure.New(failure.Invalid, "build record envelope: payload is not base64")
	}
	if len(payload) == 0 {
		return nil, failure.New(failure.Invalid, "build record envelope: payload is empty")
	}
	if len(payload) > MaxPayloadSize {
		return nil, failure.New(failure.TooLarge, "build record envelope: payload of %d bytes is over the limit of %d", len(payload), MaxPayloadSize)
	}
	switch n := len(env.Signatures); {
	case n == 0:
		return nil, failure.New(failure.Invalid, "build record envelope: no signatures")
	case n > MaxSignatures:
		return nil, failure.New(failure.Invalid, "build record envelope: %d signatures; at most %d are allowed", n, MaxSignatures)
	}
	for i, s := range env.Signatures {
		if s.Sig == "" {
			return nil, failure.New(failure.Invalid, "build record envelope: signatures[%d].sig is empty", i)
		}
		if _, err := base64.StdEncoding.DecodeString(s.Sig); err != nil {
			if _, err := base64.URLEncoding.DecodeString(s.Sig); err != nil {
				return nil, failure.New(failure.Invalid, "build record envelope: signatures[%d].sig is not base64", i)
			}
		}
	}
	return payload, nil
}

// PayloadDigest returns the SHA-256 of env's decoded payload: the value a factory certificate
// carries to name its build record.
func PayloadDigest(env *dsse.Envelope) ([32]byte, error) {
	payload, err := checkEnvelope(env)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(payload), nil
}

// Verify checks that env carries a valid signature by pub over its payload and payload type,
// then decodes the statement strictly and validates it: the in-toto statement and predicate
// types, exactly one subject named "device:<serial>" for the record's serial, and the record's
// rules. A signature whose keyid is set but differs from KeyID(pub) is not tried. Every
// failure is failure.Invalid (or failure.TooLarge for oversized payloads). It is VerifyKeys
// with one key.
func Verify(env *dsse.Envelope, pub crypto.PublicKey) (*Verified, error) {
	return VerifyKeys(env, []crypto.PublicKey{pub})
}

// VerifyKeys is Verify against a key history (keyset.go): the envelope verifies when one of
// its signatures is valid under one of pubs (1 to MaxKeys keys; duplicates count once). A
// signature's keyid picks the key it is tried with, so a record signed before a rotation
// verifies with the retired key and one signed after with the new key. Verified.KeyID names
// the key that verified.
func VerifyKeys(env *dsse.Envelope, pubs []crypto.PublicKey) (*Verified, error) {
	if _, err := checkEnvelope(env); err != nil {
		return nil, err
	}
	ks, err := NewKeySet(pubs)
	if err != nil {
		return nil, err
	}
	return ks.Verify(env)
}

// KeySet is a key history prepared once for many verifications: each key's verifier and keyid
// computed once. It is immutable and safe for concurrent use.
type KeySet struct {
	vs  []dsse.Verifier
	ids []string
}

// NewKeySet prepares pubs (1 to MaxKeys keys; duplicates count once) as VerifyKeys takes them.
func NewKeySet(pubs []crypto.PublicKey) (*KeySet, error) {
	vs, ids, err := verifiers(pubs)
	if err != nil {
		return nil, err
	}
	return &KeySet{vs: vs, ids: ids}, nil
}

// Verify is VerifyKeys with the key history ks.
func (ks *KeySet) Verify(env *dsse.Envelope) (*Verified, error) {
	payload, err := checkEnvelope(env)
	if err != nil {
		return nil, err
	}
	ev, err := dsse.NewEnvelopeVerifier(ks.vs...)
	if err != nil {
		return nil, err
	}
	accepted, err := ev.Verify(context.Background(), env)
	if err != nil || len(accepted) == 0 {
		return nil, failure.Wrap(failure.Invalid, err, fmt.Sprintf("build record: no valid signature by key %s", strings.Join(ks.ids, " or ")))
	}
	return decodeVerified(payload, accepted[0].KeyID)
}

// Reverify decodes env as VerifyKeys did when it verified the same envelope bytes before,
// without checking the signature again: for a caller that keeps, keyed by a digest of the
// envelope's bytes and of the key history, which envelopes verified (the drift report, which
// reads every device's record each round). Everything else VerifyKeys checks is checked;
// KeyID is left empty. Never call it on bytes that were not verified: it proves nothing.
func Reverify(env *dsse.Envelope) (*Verified, error) {
	payload, err := checkEnvelope(env)
	if err != nil {
		return nil, err
	}
	return decodeVerified(payload, "")
}

// decodeVerified decodes and checks the statement of a verified payload.
func decodeVerified(payload []byte, keyID string) (*Verified, error) {
	st, err := parseStatement(payload)
	if err != nil {
		return nil, err
	}
	out := &Verified{Record: st.Predicate, PayloadDigest: sha256.Sum256(payload), KeyID: keyID}
	if _, err := hex.Decode(out.SubjectKeySHA256[:], []byte(st.Subject[0].Digest.SHA256)); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "build record: subject[0].digest.sha256")
	}
	return out, nil
}

// parseStatement decodes and checks a signed payload.
func parseStatement(payload []byte) (*statement, error) {
	var st statement
	if err := decodeStrict(payload, &st, statementKeys); err != nil {
		return nil, failure.Wrap(failure.Invalid, err, "build record: malformed statement")
	}
	if st.Type != StatementType {
		return nil, failure.New(failure.Invalid, "build record: statement _type is %q, want %q", st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		return nil, failure.New(failure.Invalid, "build record: predicateType is %q, want %q", st.PredicateType, PredicateType)
	}
	if st.Predicate == nil {
		return nil, failure.New(failure.Invalid, "build record: statement has no predicate")
	}
	if err := st.Predicate.Validate(); err != nil {
		return nil, err
	}
	if len(st.Subject) != 1 {
		return nil, failure.New(failure.Invalid, "build record: statement has %d subjects, want exactly 1", len(st.Subject))
	}
	if want := SubjectPrefix + st.Predicate.Serial; st.Subject[0].Name != want {
		return nil, failure.New(failure.Invalid, "build record: subject name is %q, want %q for serial %q", st.Subject[0].Name, want, st.Predicate.Serial)
	}
	if !isHex64(st.Subject[0].Digest.SHA256) {
		return nil, failure.New(failure.Invalid, "build record: subject[0].digest.sha256: not 64 lowercase hex characters")
	}
	return &st, nil
}

// CheckBinding checks the two halves of the binding between a verified build record and a
// factory certificate: the certificate's public key (devicePub) is the statement's subject, and
// the certificate's build-record digest (certDigest) is the SHA-256 of the record's payload.
// A mismatch is failure.Invalid.
func CheckBinding(v *Verified, devicePub crypto.PublicKey, certDigest [32]byte) error {
	if v == nil {
		return failure.New(failure.Invalid, "build record binding: no verified record")
	}
	keyDigest, err := SubjectKeyDigest(devicePub)
	if err != nil {
		return err
	}
	if keyDigest != v.SubjectKeySHA256 {
		return failure.New(failure.Invalid, "build record binding: the device key (SPKI sha256 %x) is not the record's subject (sha256 %x)", keyDigest, v.SubjectKeySHA256)
	}
	if certDigest != v.PayloadDigest {
		return failure.New(failure.Invalid, "build record binding: the certificate names build record sha256 %x, but this record is sha256 %x", certDigest, v.PayloadDigest)
	}
	return nil
}
