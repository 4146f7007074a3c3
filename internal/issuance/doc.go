// Package issuance builds, lints and signs the certificates Hallmark issues. It is pure: no
// I/O, no clock, no global randomness; times and random sources are parameters.
//
// Every certificate goes through one fixed cycle (after letsencrypt/boulder):
//
//	template (a builder per Profile) → Issuer.Prepare: serial, TBS under a throwaway key, lint
//	→ the caller records Prepared.Serial and Prepared.TBS → Issuer.Sign(Prepared) → store
//
// Invariants:
//
//   - Nothing is signed that was not linted: the CA key is reachable only through Sign (or
//     SignSelfSigned), which takes a *Prepared, and a Prepared exists only after the
//     to-be-signed certificate linted without errors or fatals for its profile.
//   - What is signed is exactly what was linted: Sign signs the linted TBS bytes themselves and
//     checks that the signed certificate's RawTBSCertificate equals them byte for byte and that
//     its signature verifies under the CA certificate.
//   - A Prepared is spent by its first Sign call, successful or not, and only the Issuer that
//     made it can sign it: a serial is never signed twice.
//   - Serials are 127 bits long: the certificate's notBefore in seconds, then 88 bits from the
//     caller's random source (NewSerial). They are positive, non-zero and fit in 16 octets (RFC
//     5280 section 4.1.2.2).
//   - Templates are RFC 5280 profiles with explicit subject key identifiers (RFC 7093 method 1);
//     the builders refuse empty or inconsistent parameters with failure.Invalid.
//   - Lint and template failures are failure.Invalid; other errors are internal.
package issuance
