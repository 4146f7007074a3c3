// Package makerstatus checks the revocation status of devices made by makers that do not run
// Hallmark, through the maker's own CRLs (RFC 5280) and OCSP responders (RFC 6960): it fetches,
// verifies and caches what they publish, answers for one device (Checker.Check) and refreshes
// a whole fleet within an interval (Watcher). docs/external-makers.md describes the design.
//
// It is an adapter: it does HTTP. The parsing and verification of what comes back (verifyCRL,
// parseOCSPResponse, verifyOCSP) are pure functions of the bytes, the issuer and the time.
//
// Invariants:
//
//   - Only http and https URLs are fetched, each fetch under a timeout, with a bound on the
//     body counted while reading (a body over the limit is dropped, never held whole), and at
//     most Config.PerHost fetches at once to one host.
//   - Nothing from a source is used unless it verifies: a CRL must be signed by the issuer of
//     the device certificates and name it as its issuer; an OCSP answer must be signed by the
//     issuer or by a responder certificate the issuer issued for OCSP signing (checked with
//     internal/chainverify), must answer for the certificate asked about, and must echo the
//     nonce sent, if it carries one.
//   - Nothing stale is used: a CRL or OCSP answer counts only from its thisUpdate (less
//     Config.ClockSkew) until its nextUpdate. An OCSP answer without nextUpdate counts for
//     Config.OCSPMaxAge after its thisUpdate and is not cached.
//   - A bad fetch changes nothing: a CRL that is stale, older than the one held, badly signed,
//     oversized, unparsable or unreachable never replaces the last good one, which is used
//     until its own nextUpdate. Every fetch is reported (Observer) with its Outcome.
//   - An answer says what it rests on: a Result carries the Evidence (URL, thisUpdate,
//     nextUpdate) of every answer it used and the *SourceError of every source that gave none.
//     Unknown is never turned into Good here; fail-open is the caller's choice (Result.Decide).
//   - Lookups in a held CRL are O(1) (a map by serial). Caches are bounded.
//   - No input makes the package panic: hostile bytes come back as errors.
//
// Time comes from Config.Now; the pure functions take it as a parameter.
package makerstatus

import "github.com/hallmark-id/hallmark/internal/failure"

// Outcome is the result of one fetch of one source, as reported to an Observer and kept for
// the gaps report. The values are stable metric label values.
type Outcome string

// The outcomes.
const (
	OK             Outcome = "ok"              // fetched, verified and fresh
	Stale          Outcome = "stale"           // verified, but past nextUpdate, not yet valid, or older than the CRL held
	BadSignature   Outcome = "bad_signature"   // not signed by the issuer or an authorised responder
	Oversized      Outcome = "oversized"       // the body exceeds the limit
	Unreachable    Outcome = "unreachable"     // connection, timeout, or an HTTP status other than 200
	ParseError     Outcome = "parse_error"     // not a CRL or OCSP response
	Invalid        Outcome = "invalid"         // well-formed but unusable: wrong issuer or certificate, unsupported critical extension, scope, nonce
	ResponderError Outcome = "responder_error" // the OCSP responder answered with an error status (RFC 6960 4.2.1)
)

// Outcomes lists every Outcome, for metrics that pre-declare their labels.
var Outcomes = []Outcome{OK, Stale, BadSignature, Oversized, Unreachable, ParseError, Invalid, ResponderError}

// SourceError is why one source gave no usable answer. It is failure.Unavailable: the source
// may recover.
type SourceError struct {
	Source  Source
	Outcome Outcome
	Err     error
}

func (e *SourceError) Error() string {
	msg := string(e.Outcome) + ": " + e.Err.Error()
	if e.Source.URL == "" {
		return msg
	}
	return string(e.Source.Kind) + " " + e.Source.URL + ": " + msg
}

func (e *SourceError) Unwrap() error { return e.Err }

// FailureKind classifies the error.
func (e *SourceError) FailureKind() failure.Kind { return failure.Unavailable }
