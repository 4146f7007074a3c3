package ca

import (
	"crypto/x509"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Rotation. An issuing CA is succeeded by a new one under the same root (or under the root's
// successor after a root rollover): from SucceededAt the successor takes over the lots and
// environments that named the old CA, and the old CA goes on signing only until IssuesUntil,
// the end of the overlap, so that requests already under way when the lots moved still
// succeed. A succeeded CA is not revoked: its certificates stay valid, and its CRLs and OCSP
// answers go on being served until its own certificate expires (and with it every
// certificate it signed, which end no later).
//
// A root rolls over the same way, with two cross-certificates (CrossCert): the new root's key
// certified by the old root and the old root's key by the new one, so that relying parties
// that trust either root verify certificates of both hierarchies.
//
// The decisions are pure functions of the recorded times and the time given (Standing.Check,
// ExpiryLevel), in the manner of SPIRE's CA slots: nothing here reads a clock.

// Standing is what decides whether a CA may still sign, read without loading its certificate.
type Standing struct {
	ID          string
	RetiredAt   *time.Time // a whole-CA revocation retired it (RetireCA)
	SuccessorID string     // the CA that succeeded it, "" while none has
	IssuesUntil *time.Time // set with SuccessorID: the end of the overlap
}

// Check returns nil when the CA may sign a certificate of the given kind at now, else a
// failure.Conflict saying why. A retired CA signs nothing. A succeeded CA signs anything until
// IssuesUntil, and after it only certificates that keep its revocation status served
// (statusOnly: its delegated OCSP responder), since it keeps serving status until its last
// certificate expires.
func (s Standing) Check(now time.Time, statusOnly bool) error {
	if s.RetiredAt != nil {
		return failure.New(failure.Conflict, "CA %s was retired by a whole-CA revocation at %s and issues nothing more", s.ID, s.RetiredAt.UTC().Format(time.RFC3339))
	}
	if s.SuccessorID == "" || statusOnly || s.IssuesUntil == nil || now.Before(*s.IssuesUntil) {
		return nil
	}
	return failure.New(failure.Conflict, "CA %s was succeeded by %s and stopped issuing at %s: issue from %s", s.ID, s.SuccessorID, s.IssuesUntil.UTC().Format(time.RFC3339), s.SuccessorID)
}

// Standing returns the part of c that Standing.Check reads.
func (c CA) Standing() Standing {
	return Standing{ID: c.ID, RetiredAt: c.RetiredAt, SuccessorID: c.SuccessorID, IssuesUntil: c.IssuesUntil}
}

// Status names where a CA is in its life, for reports: active (issuing, no successor),
// overlap (succeeded, still signing until IssuesUntil), succeeded (no longer signing; still
// serving status), retired (whole-CA revocation), expired (its certificate ended), anchor (a
// certificate without a key, never signing).
type Status string

// Statuses.
const (
	StatusActive    Status = "active"
	StatusOverlap   Status = "overlap"
	StatusSucceeded Status = "succeeded"
	StatusRetired   Status = "retired"
	StatusExpired   Status = "expired"
	StatusAnchor    Status = "anchor"
)

// StatusAt returns c's status at now.
func (c CA) StatusAt(now time.Time) Status {
	switch {
	case c.Cert != nil && !now.Before(c.Cert.NotAfter):
		return StatusExpired
	case c.RetiredAt != nil:
		return StatusRetired
	case c.SuccessorID != "" && (c.IssuesUntil == nil || !now.Before(*c.IssuesUntil)):
		return StatusSucceeded
	case c.SuccessorID != "":
		return StatusOverlap
	case c.Role == Anchor:
		return StatusAnchor
	}
	return StatusActive
}

// InService reports whether c is a CA someone relies on to go on working at now: an active
// CA or anchor. Its expiry needs a successor; a succeeded, retired or expired CA's does not.
func (c CA) InService(now time.Time) bool {
	s := c.StatusAt(now)
	return s == StatusActive || s == StatusAnchor
}

// ExpiryLevel is how close a CA certificate is to its end: the warning thresholds of 90, 30
// and 7 days, or expired.
type ExpiryLevel string

// Expiry levels, from the least to the most urgent. LevelNone is more than 90 days away.
const (
	LevelNone    ExpiryLevel = ""
	Level90Days  ExpiryLevel = "90d"
	Level30Days  ExpiryLevel = "30d"
	Level7Days   ExpiryLevel = "7d"
	LevelExpired ExpiryLevel = "expired"
)

// Expiry warning thresholds.
const (
	Warn90 = 90 * 24 * time.Hour
	Warn30 = 30 * 24 * time.Hour
	Warn7  = 7 * 24 * time.Hour
)

// ExpiryLevelAt returns the warning level of a certificate ending at notAfter, seen at now: a
// level applies once the time left is at most its threshold (exactly 30 days left is 30d).
func ExpiryLevelAt(notAfter, now time.Time) ExpiryLevel {
	left := notAfter.Sub(now)
	switch {
	case left <= 0:
		return LevelExpired
	case left <= Warn7:
		return Level7Days
	case left <= Warn30:
		return Level30Days
	case left <= Warn90:
		return Level90Days
	}
	return LevelNone
}

// CrossCert is a cross-certificate of a root rollover: Issuer's key signed a certificate of
// Subject's name and key. Old-with-new (the old root's key certified by the new root) and
// new-with-old (the new root's key certified by the old one) are the two of a rollover (RFC
// 4210 section 4.4, which RFC 7030 section 4.1.3 serves with /cacerts). The certificate is
// also recorded, like every certificate Hallmark signs, under Serial in the issuer's
// certificates.
type CrossCert struct {
	Serial    string            `json:"serial"`
	SubjectID string            `json:"subject_ca_id"` // the CA whose name and key it certifies
	IssuerID  string            `json:"issuer_ca_id"`  // the CA that signed it
	CertDER   []byte            `json:"-"`
	Cert      *x509.Certificate `json:"-"`
	CreatedAt time.Time         `json:"created_at"`
}
