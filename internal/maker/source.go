package maker

import "time"

// SourceState is what the status watcher last found at one revocation source of a maker (a
// CRL distribution point or an OCSP responder), as kept for the gaps report.
type SourceState struct {
	MakerID string
	Kind    string // "crl" or "ocsp"
	URL     string
	Issuer  string // the subject of the maker's CA the source answers for
	// Outcome is the last fetch's (makerstatus.Outcome: "ok", "stale", "unreachable", ...),
	// Err its error ("" when ok).
	Outcome string
	Err     string
	// LastAttempt is the last fetch; LastOK the last that was ok (zero: none).
	LastAttempt, LastOK time.Time
	// HeldUntil is, for a CRL source, the nextUpdate of the last good CRL held (zero: none).
	HeldUntil time.Time
	// FailingSince is the first of the failed fetches since the last ok one (zero when the
	// last fetch was ok).
	FailingSince time.Time
}

// Gap reports whether the source is a gap at now, and since when: its last fetch failed
// (since the first failure in a row), or, for a CRL source, no CRL valid at now is held
// (since the held one's nextUpdate, or the last attempt when none was ever held).
func (s SourceState) Gap(now time.Time) (bool, time.Time) {
	if s.Outcome != "ok" {
		since := s.FailingSince
		if since.IsZero() {
			since = s.LastAttempt
		}
		return true, since
	}
	if s.Kind == "crl" {
		if s.HeldUntil.IsZero() {
			return true, s.LastAttempt
		}
		if now.After(s.HeldUntil) {
			return true, s.HeldUntil
		}
	}
	return false, time.Time{}
}
