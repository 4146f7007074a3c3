// Package manifest parses and verifies the device manifest of a maker that does not run
// Hallmark: the list of devices (by serial, by key, or both) that the maker says it built, so
// that an operator can require a device to be listed before it is onboarded.
// docs/external-makers.md describes the formats and how onboarding will use them.
//
// Two formats are read:
//
//   - A DSSE envelope (https://github.com/secure-systems-lab/dsse) of payload type
//     PayloadType whose payload is a JSON document of type DocumentType, signed by a key the
//     operator registered for the maker (VerifyDSSE). The signature is the maker's word.
//   - A CSV file with a header naming the columns "serial" and/or "spki_sha256" (ParseCSV).
//     A CSV carries no signature: nothing in it says who wrote it. A caller must not trust
//     one without an operator's approval of that exact upload (its SHA-256, Set.Digest).
//
// Invariants:
//
//   - Every input is size-capped before it is parsed and entry-capped while it is (Limits;
//     failure.TooLarge); every other refusal is failure.Invalid with a message naming the line,
//     entry or field and the rule, so that a maker can fix the file.
//   - JSON is decoded strictly: unknown, duplicate or case-folded keys and trailing data are
//     refused, so every conforming reader sees the same list. Signatures cover the exact
//     payload bytes; nothing is re-encoded before verifying.
//   - A signature's keyid is an unauthenticated hint and is ignored: every signature is tried
//     against every registered key, and one valid signature by one of them is enough.
//   - A Set never lists a serial or a key twice: a duplicate refuses the whole manifest.
//   - A Set is immutable once returned and safe for concurrent lookups, which are O(1).
//   - A device is admitted by Set.Check only if an entry names its key or its serial and no
//     part of that entry contradicts the device; a refusal is a *NotListed naming the rule.
//
// The package is pure: no I/O and no clock.
package manifest

// Identifiers of the signed format.
const (
	// PayloadType is the DSSE payload type of a signed manifest.
	PayloadType = "application/vnd.hallmark.manifest+json"
	// DocumentType is the value of the payload's "manifestType".
	DocumentType = "https://hallmark.dev/device-manifest/v1"
)

// Limits bound what a manifest may hold. A zero field takes its default.
type Limits struct {
	// MaxBytes is the largest input accepted: the envelope for VerifyDSSE, the file for
	// ParseCSV. Default DefaultMaxBytes.
	MaxBytes int
	// MaxEntries is the most devices one manifest may list. Default DefaultMaxEntries.
	MaxEntries int
}

// Defaults of Limits. A listed device costs about 60 bytes of JSON (a serial of 16 characters
// and a key digest), 80 as base64 in an envelope: a million devices fit in 96 MiB.
const (
	DefaultMaxBytes   = 96 << 20
	DefaultMaxEntries = 1_000_000
	// MaxSignatures is the most signatures one envelope may carry.
	MaxSignatures = 16
	// MaxSerialLen is the longest serial accepted, in bytes.
	MaxSerialLen = 128
	// maxMakerLen bounds the maker name in a signed manifest, in bytes.
	maxMakerLen = 128
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	return l
}
