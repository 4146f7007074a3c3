// Package custodyvoucher reads, writes, extends and verifies custody vouchers: signed files
// that carry custody of devices from one party to the next across deployments, or through a
// party that runs no deployment at all. docs/vouchers.md describes the format and the commands.
// A custody voucher is not an RFC 8366 voucher (those are internal/brski's): it moves custody
// between parties, where an RFC 8366 voucher tells one pledge which domain to trust.
//
// A voucher is a JSON file (Voucher) holding:
//
//   - the devices, each with its factory certificate chain (leaf first) and its signed build
//     record (a DSSE envelope, internal/buildrecord);
//   - the chain of hand-overs (links), oldest first. Each link is a DSSE envelope of payload
//     type LinkPayloadType whose payload (Link) names the devices (by DevicesDigest), the
//     SHA-256 of the previous link's payload, the sender's key, the addressee's public key, a
//     random nonce, and when it was issued and until when it may be accepted.
//
// Link 0 is signed by the maker's build-record key: the maker (its deployment) hands the
// devices to the first party. Every later link is signed by the key the link before it was
// addressed to, so only the current addressee can extend a voucher (Extend), and a party that
// holds a voucher proves nothing by it unless the last link names its key.
//
// Why DSSE and not JWS: build records and device manifests are DSSE envelopes already, so one
// verifier and one signature encoding (ASN.1 ECDSA, Ed25519 over the PAE) serve all three, the
// payload type is signed (a link can never be read as a build record signed by the same
// maker key, or the other way round), and the payload is signed as bytes, never re-encoded.
//
// Invariants:
//
//   - Verify is pure and offline: it needs the maker's anchors, intermediates and
//     build-record keys (Trust) and the time, and nothing else. It refuses a voucher unless
//     every factory chain verifies to an anchor (internal/chainverify), every build record
//     verifies with a build-record key and is bound to its certificate, link 0 is signed by a
//     build-record key, every later link by the key its predecessor addressed, every link
//     names the same devices, its index and its predecessor's hash, and issuance times never
//     go back nor pass the previous link's expiry, and the last link is unexpired.
//   - Every refusal is failure.Invalid (failure.TooLarge for oversized input) with a message
//     naming the device or link and the rule.
//   - JSON is decoded strictly: unknown, duplicate or case-folded keys and trailing data are
//     refused. Signatures cover the exact payload bytes.
//   - Devices are listed in strictly increasing serial order, so a device set has one digest.
//
// The package is pure: no I/O and no clock.
package custodyvoucher

// Identifiers of the format.
const (
	// VoucherType is the value of a voucher file's "voucherType".
	VoucherType = "https://hallmark.dev/custody-voucher/v1"
	// LinkPayloadType is the DSSE payload type of a link.
	LinkPayloadType = "application/vnd.hallmark.custody-link+json"
	// LinkType is the value of a link payload's "linkType".
	LinkType = "https://hallmark.dev/custody-link/v1"
)

// Limits, checked before and while parsing.
const (
	MaxBytes       = 64 << 20           // a voucher file
	MaxDevices     = 10000              // devices in one voucher
	MaxLinks       = 64                 // hand-overs in one voucher
	MaxChainCerts  = 8                  // certificates in one device's factory chain
	MaxLinkPayload = 16 << 10           // a link's decoded payload
	MaxNameLen     = 128                // a sender or addressee name
	MaxTTL         = 366 * 24 * 60 * 60 // seconds a link may stay acceptable
)
