// Package buildrecord encodes, signs and verifies build records: what the factory asserts about
// one device (manufacturer, model, hardware revision, serial, lot, line, components, firmware
// digest, test result, build time), signed by the manufacturer and bound to the device's factory
// certificate. docs/build-records.md describes the format and explains the choices.
//
// A signed build record is a DSSE envelope (https://github.com/secure-systems-lab/dsse) of
// payload type PayloadType whose payload is an in-toto Statement v1 (StatementType) with
// predicate type PredicateType and the Record as its predicate.
//
// Invariants:
//
//   - Sign and Verify accept only records that pass Record.Validate; every rule failure is a
//     failure.Invalid error naming the field ("build record: serial: ...").
//   - The payload is encoded once, by Sign. Signatures, PayloadDigest and the factory
//     certificate's build-record extension all cover those exact bytes; nothing is ever
//     re-encoded or canonicalised before hashing or verifying.
//   - The statement has exactly one subject, named "device:<serial>" with the record's serial,
//     whose sha256 digest is the SHA-256 of the device public key's DER SubjectPublicKeyInfo.
//     The record names the device key; the certificate names the record (CheckBinding).
//   - The signed JSON is decoded strictly: unknown, duplicate or case-folded keys and trailing
//     data are refused, so every conforming JSON reader sees the same record.
//   - Signing keys are ECDSA P-256 (SHA-256), ECDSA P-384 (SHA-384) or Ed25519; ECDSA
//     signatures are ASN.1 DER. A signature's keyid is the lowercase hex SHA-256 of the
//     signing key's DER SubjectPublicKeyInfo; it is a hint, never trusted.
//   - Sign checks each signature it makes against the signer's public key before returning.
//   - Inputs are size-capped before parsing (MaxRecordSize, MaxEnvelopeSize, MaxPayloadSize;
//     failure.TooLarge).
//
// The package is pure: no I/O and no clock.
package buildrecord

// Identifiers of the format.
const (
	// PayloadType is the DSSE payload type: an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is the in-toto statement's _type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names Record as an in-toto predicate.
	PredicateType = "https://hallmark.dev/build-record/v1"
	// SubjectPrefix starts the statement subject's name; the device serial follows.
	SubjectPrefix = "device:"
)

// Size limits, checked before any parsing.
const (
	MaxRecordSize   = 64 << 10  // a build record as JSON (ParseRecord)
	MaxPayloadSize  = 128 << 10 // the decoded DSSE payload (the statement)
	MaxEnvelopeSize = 256 << 10 // a DSSE envelope as JSON (ParseEnvelope)
	MaxSignatures   = 16        // signatures in one envelope
	MaxComponents   = 256       // components in one record
)
