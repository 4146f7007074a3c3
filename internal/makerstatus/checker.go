package makerstatus

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Status is what is known of a certificate.
type Status int

// The statuses. Unknown is the zero value: nothing usable was learned.
const (
	Unknown Status = iota
	Good
	Revoked
)

func (s Status) String() string {
	switch s {
	case Good:
		return "good"
	case Revoked:
		return "revoked"
	}
	return "unknown"
}

// Mode is what a maker's registration says to do when the status is unknown.
type Mode int

// The modes. FailClosed is the zero value and the default.
const (
	FailClosed Mode = iota // refuse a device whose status is unknown
	FailOpen               // allow it, with a warning
)

// Observer is told of every fetch; the caller may back it with metrics. It must not block.
type Observer interface {
	Fetched(src Source, o Outcome, elapsed time.Duration, err error)
}

// Config sets up a Checker. Zero fields take the defaults in brackets.
type Config struct {
	// Client does the HTTP [a client of its own with the default transport]. The per-fetch
	// timeouts below apply whatever its own settings.
	Client *http.Client
	// CRLTimeout bounds one CRL fetch, body included [30s]; OCSPTimeout one OCSP exchange [5s].
	CRLTimeout, OCSPTimeout time.Duration
	// MaxCRLBytes [10 MiB] and MaxOCSPBytes [64 KiB] bound a body; a larger one is dropped.
	MaxCRLBytes, MaxOCSPBytes int64
	// PerHost bounds concurrent fetches to one host [4].
	PerHost int
	// ClockSkew is how far in the future a thisUpdate may be [5m].
	ClockSkew time.Duration
	// OCSPMaxAge is how long an OCSP answer without nextUpdate counts after its thisUpdate
	// [1h]; such answers are not cached.
	OCSPMaxAge time.Duration
	// OCSPCacheSize bounds the cached OCSP answers [200,000].
	OCSPCacheSize int
	// RetryAfter is how long a source whose fetch failed is not fetched again on demand
	// (Check); the Watcher fetches every source each round regardless [1m].
	RetryAfter time.Duration
	// OCSPGet sends OCSP requests by GET (RFC 6960 appendix A.1) instead of POST.
	OCSPGet bool
	// NoNonce leaves the nonce out of OCSP requests, for responders that refuse one.
	NoNonce bool
	// Now is the clock [time.Now].
	Now func() time.Time
	// Observer is told of every fetch [none].
	Observer Observer
}

func (c Config) withDefaults() (Config, error) {
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{"CRLTimeout", c.CRLTimeout}, {"OCSPTimeout", c.OCSPTimeout}, {"ClockSkew", c.ClockSkew}, {"OCSPMaxAge", c.OCSPMaxAge}, {"RetryAfter", c.RetryAfter}} {
		if v.d < 0 {
			return c, failure.New(failure.Invalid, "makerstatus: %s is negative", v.name)
		}
	}
	if c.MaxCRLBytes < 0 || c.MaxOCSPBytes < 0 || c.PerHost < 0 || c.OCSPCacheSize < 0 {
		return c, failure.New(failure.Invalid, "makerstatus: a negative limit")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.CRLTimeout, 30*time.Second)
	def(&c.OCSPTimeout, 5*time.Second)
	def(&c.ClockSkew, 5*time.Minute)
	def(&c.OCSPMaxAge, time.Hour)
	def(&c.RetryAfter, time.Minute)
	if c.MaxCRLBytes == 0 {
		c.MaxCRLBytes = 10 << 20
	}
	if c.MaxOCSPBytes == 0 {
		c.MaxOCSPBytes = 64 << 10
	}
	if c.PerHost == 0 {
		c.PerHost = 4
	}
	if c.OCSPCacheSize == 0 {
		c.OCSPCacheSize = 200_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Checker answers for the revocation status of devices of makers that do not run Hallmark.
// It is safe for concurrent use.
type Checker struct {
	c      Config
	f      *fetcher
	crls   *crlCache
	ocsp   *ocspCache
	states *states
}

// New returns a Checker.
func New(c Config) (*Checker, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Checker{
		c:      c,
		f:      newFetcher(c.Client, c.PerHost),
		crls:   &crlCache{m: map[sourceKey]*crlEntry{}},
		ocsp:   newOCSPCache(c.OCSPCacheSize),
		states: &states{m: map[sourceKey]*SourceState{}},
	}, nil
}

// Query asks for the status of one device certificate.
type Query struct {
	Device *x509.Certificate
	// Issuer is the certificate of the CA that issued Device.
	Issuer *x509.Certificate
	// Sources, when set, are used instead of those Device names: the operator's explicit
	// sources for the maker.
	Sources []Source
}

// Evidence is one answer a Result rests on.
type Evidence struct {
	Source                 Source
	Status                 Status
	Revocation             Revocation // when Status is Revoked
	ThisUpdate, NextUpdate time.Time  // of the CRL or OCSP answer; NextUpdate zero if none
	Nonce                  bool       // an OCSP answer that echoed the request's nonce
}

// Result is what Check learned of one device.
type Result struct {
	Serial *big.Int
	// Status is Revoked if any source says so, else Good if any says so, else Unknown.
	Status     Status
	Revocation Revocation // of the first Revoked evidence
	Evidence   []Evidence
	// Problems are the sources that gave no usable answer: why Status is Unknown, or
	// warnings beside a Good or Revoked.
	Problems []*SourceError
}

// Err is why the status is unknown; nil when it is known.
func (r Result) Err() error {
	if r.Status != Unknown {
		return nil
	}
	var errs []error
	for _, p := range r.Problems {
		errs = append(errs, p)
	}
	for _, e := range r.Evidence {
		if e.Status == Unknown {
			errs = append(errs, fmt.Errorf("%s %s: the responder does not know the certificate", e.Source.Kind, e.Source.URL))
		}
	}
	if len(errs) == 0 {
		return errors.New("no source gave an answer")
	}
	return errors.Join(errs...)
}

// Decide applies a maker's mode to r. A revoked device is refused (failure.Denied, naming
// the evidence). A good one is allowed. One whose status is unknown is refused under
// FailClosed (failure.Unavailable: the sources may recover) and allowed under FailOpen, with
// err set to a warning the caller must log or show. So: allowed is the decision; err is the
// refusal when !allowed and a warning (or nil) when allowed.
func (r Result) Decide(m Mode) (allowed bool, err error) {
	switch r.Status {
	case Good:
		return true, nil
	case Revoked:
		ev := r.Evidence[slices.IndexFunc(r.Evidence, func(e Evidence) bool { return e.Status == Revoked })]
		return false, failure.New(failure.Denied, "the maker revoked certificate serial %x (%s at %s; %s %s of %s)",
			r.Serial, ReasonName(r.Revocation.Reason), r.Revocation.Time.UTC().Format(time.RFC3339),
			ev.Source.Kind, ev.Source.URL, ev.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if m == FailOpen {
		return true, fmt.Errorf("the revocation status of certificate serial %x is unknown; allowed because the maker is fail-open: %w", r.Serial, r.Err())
	}
	return false, failure.Wrap(failure.Unavailable, r.Err(), fmt.Sprintf("the revocation status of certificate serial %x is unknown and the maker is fail-closed", r.Serial))
}

// ReasonName names an RFC 5280 CRLReason code.
func ReasonName(code int) string {
	names := []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
		"cessationOfOperation", "certificateHold", "7", "removeFromCRL", "privilegeWithdrawn", "aACompromise"}
	if code >= 0 && code < len(names) {
		return names[code]
	}
	return fmt.Sprintf("reason %d", code)
}

// Check answers for q.Device: it consults every CRL source (a held CRL, or one fetched now
// when none fresh is held), then the OCSP sources in turn until one answers good or revoked
// (a cached answer, or one fetched now). The error is for a query that cannot be asked
// (failure.Invalid: no certificate, or Device not signed by Issuer, so the URLs it names
// are not the issuer's word); every problem with a source is in the Result.
//
// The caller must have verified Device's chain (internal/chainverify) before: Check fetches
// the URLs Device names.
func (c *Checker) Check(ctx context.Context, q Query) (Result, error) {
	if q.Device == nil || q.Issuer == nil {
		return Result{}, failure.New(failure.Invalid, "status check: a device certificate and its issuer are required")
	}
	if err := q.Device.CheckSignatureFrom(q.Issuer); err != nil {
		return Result{}, failure.Wrap(failure.Invalid, err, "status check: the device certificate is not signed by the issuer given")
	}
	res := Result{Serial: q.Device.SerialNumber}
	sources := q.Sources
	if len(sources) == 0 {
		var errs []error
		sources, errs = SourcesOf(q.Device)
		for _, err := range errs {
			res.Problems = append(res.Problems, &SourceError{Outcome: Invalid, Err: err})
		}
	}
	for _, s := range sources {
		if _, err := NewSource(s.Kind, s.URL); err != nil {
			return Result{}, err
		}
	}
	if len(sources) == 0 {
		res.Problems = append(res.Problems, &SourceError{Outcome: Invalid, Err: errors.New("the certificate names no CRL distribution point or OCSP responder, and none is registered")})
	}
	for _, s := range sources {
		if s.Kind != KindCRL {
			continue
		}
		doc, err := c.crl(ctx, s, q.Issuer, false)
		if err != nil {
			res.Problems = append(res.Problems, err)
			continue
		}
		if doc.scoped && !slices.Contains(q.Device.CRLDistributionPoints, s.URL) {
			res.Problems = append(res.Problems, &SourceError{Source: s, Outcome: Invalid, Err: errors.New("a partitioned CRL (issuingDistributionPoint) the certificate does not name")})
			continue
		}
		ev := Evidence{Source: s, Status: Good, ThisUpdate: doc.thisUpdate, NextUpdate: doc.nextUpdate}
		if rev, ok := doc.lookup(q.Device.SerialNumber); ok {
			ev.Status, ev.Revocation = Revoked, rev
		}
		res.Evidence = append(res.Evidence, ev)
	}
	for _, s := range sources {
		if s.Kind != KindOCSP {
			continue
		}
		a, err := c.ocspFor(ctx, s, q.Issuer, q.Device.SerialNumber, false)
		if err != nil {
			res.Problems = append(res.Problems, err)
			continue
		}
		res.Evidence = append(res.Evidence, Evidence{Source: s, Status: a.status, Revocation: a.revocation,
			ThisUpdate: a.thisUpdate, NextUpdate: a.nextUpdate, Nonce: a.nonce})
		if a.status != Unknown {
			break
		}
	}
	for _, ev := range res.Evidence {
		switch {
		case ev.Status == Revoked && res.Status != Revoked:
			res.Status, res.Revocation = Revoked, ev.Revocation
		case ev.Status == Good && res.Status == Unknown:
			res.Status = Good
		}
	}
	return res, nil
}

// sourceKey names a source for one issuer: a CRL's signature and an OCSP answer are checked
// against the issuer, so the same URL under two issuers is two sources.
type sourceKey struct {
	src    Source
	issuer [32]byte // SHA-256 of the issuer certificate
}

func keyOf(src Source, issuer *x509.Certificate) sourceKey {
	return sourceKey{src: src, issuer: sha256.Sum256(issuer.Raw)}
}

// SourceState is the last known state of one source, for the gaps report.
type SourceState struct {
	Source Source
	Issuer string // the issuer's subject
	// Outcome and Err are of the last fetch; LastOK is the last fetch whose outcome was OK.
	Outcome             Outcome
	Err                 string
	LastAttempt, LastOK time.Time
	Fetches, Failures   int64
	HeldThis, HeldNext  time.Time // a CRL source: the validity of the CRL held, zero if none
	HeldEntries         int
	// FailingSince is the first fetch of the failures in a row that the last fetch ends
	// (zero when the last fetch was OK).
	FailingSince time.Time
}

// Gap reports whether the source needs attention at now: its last fetch failed, or (for a
// CRL) no CRL fresh at now is held.
func (s SourceState) Gap(now time.Time) bool {
	if s.Outcome != OK {
		return true
	}
	return s.Source.Kind == KindCRL && (s.HeldNext.IsZero() || now.After(s.HeldNext))
}

// Sources returns the state of every source fetched so far, sorted by URL.
func (c *Checker) Sources() []SourceState {
	out := c.states.list()
	slices.SortFunc(out, func(a, b SourceState) int {
		return strings.Compare(a.Source.URL+a.Issuer, b.Source.URL+b.Issuer)
	})
	return out
}
