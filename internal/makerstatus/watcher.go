package makerstatus

import (
	"context"
	"crypto/x509"
	"iter"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// Issuer is a registered maker's CA that issues device certificates, with the CRLs the
// Watcher refreshes for it.
type Issuer struct {
	// ID is the caller's name for the issuer; Devices and RevokedDevice refer to it.
	ID   string
	Cert *x509.Certificate
	// CRLs are the CRL sources to refresh: the maker's explicit ones, or the distinct
	// distribution points its device certificates name.
	CRLs []Source
}

// Device is a device seen, whose status the Watcher keeps.
type Device struct {
	IssuerID string
	Serial   *big.Int
	// CRLURLs are the distribution points the device certificate names; a partitioned CRL
	// (issuingDistributionPoint) covers the device only if it is named here.
	CRLURLs []string
	// OCSP are the responders to ask when no CRL covers the device.
	OCSP []Source
}

// RevokedDevice says that a device seen turned up revoked.
type RevokedDevice struct {
	IssuerID   string
	Serial     *big.Int
	Revocation Revocation
	Evidence   Evidence
}

// WatcherConfig sets up a Watcher. Zero fields take the defaults in brackets.
type WatcherConfig struct {
	Checker *Checker
	// Interval is the time within which every source is refreshed and every device checked
	// [1h]: Run starts a round every Interval.
	Interval time.Duration
	// Jitter spreads the CRL fetches of a round: each waits a random time below it first
	// [Interval/20, at most 1m].
	Jitter time.Duration
	// Concurrency bounds the fetches of a round in flight [8]; Config.PerHost still applies.
	Concurrency int
	// OnRevoked is called, one call at a time, for each device seen that a fresh CRL or OCSP
	// answer says is revoked. A device is reported once per Watcher; a call that returns an
	// error is made again in the next round.
	OnRevoked func(ctx context.Context, r RevokedDevice) error
	// FreshOCSP asks every OCSP responder now, neither using a cached answer nor waiting out a
	// responder's back-off (the answers are still cached for the periodic rounds): for a
	// check an operator asked for (hallmark maker check), whose answer must be today's.
	FreshOCSP bool
}

// Watcher refreshes the status of every device seen of every registered maker.
type Watcher struct {
	c        WatcherConfig
	mu       sync.Mutex // serialises OnRevoked and guards reported
	reported map[string]bool
}

// NewWatcher returns a Watcher.
func NewWatcher(c WatcherConfig) (*Watcher, error) {
	if c.Checker == nil || c.OnRevoked == nil {
		return nil, failure.New(failure.Invalid, "makerstatus: a watcher needs a Checker and OnRevoked")
	}
	if c.Interval < 0 || c.Jitter < 0 || c.Concurrency < 0 {
		return nil, failure.New(failure.Invalid, "makerstatus: a negative watcher setting")
	}
	if c.Interval == 0 {
		c.Interval = time.Hour
	}
	if c.Jitter == 0 {
		c.Jitter = min(c.Interval/20, time.Minute)
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	return &Watcher{c: c, reported: map[string]bool{}}, nil
}

// Summary is what one round did.
type Summary struct {
	Started time.Time
	Elapsed time.Duration
	// CRLs counts the round's CRL fetches by outcome; OCSP its OCSP answers (cached
	// answers count as OK).
	CRLs, OCSP map[Outcome]int
	// Devices were checked: ByCRL by a fresh CRL, ByOCSP by a fresh OCSP answer; Unknown
	// got no answer (the gaps). Revoked were found revoked, of which Reported were reported
	// for the first time; CallbackErrors OnRevoked calls failed.
	Devices, ByCRL, ByOCSP, Unknown, Revoked, Reported, CallbackErrors int
}

// heldCRL is a fresh CRL of an issuer in a round.
type heldCRL struct {
	src Source
	doc *crlDoc
}

// Refresh runs one round: it fetches every CRL of issuers (jittered, at most Concurrency at
// once), then checks every device: by the fresh CRLs of its issuer when one covers it (an
// O(1) lookup), else by its OCSP responders (cached answers until their nextUpdate, else
// asked, at most Concurrency at once). A CRL that fails to refresh leaves the one held in
// use until its nextUpdate. Devices of an issuer not in issuers are counted Unknown.
func (w *Watcher) Refresh(ctx context.Context, issuers []Issuer, devices iter.Seq[Device]) Summary {
	started := time.Now()
	s := Summary{Started: started, CRLs: map[Outcome]int{}, OCSP: map[Outcome]int{}}
	var mu sync.Mutex // guards s while workers run
	ck := w.c.Checker

	held := make(map[string][]heldCRL, len(issuers))
	byID := make(map[string]*Issuer, len(issuers))
	sem := make(chan struct{}, w.c.Concurrency)
	var wg sync.WaitGroup
	for i := range issuers {
		is := &issuers[i]
		if is.Cert == nil {
			continue
		}
		byID[is.ID] = is
		var srcs []Source
		for _, src := range is.CRLs {
			if src.Kind == KindCRL && !slices.Contains(srcs, src) {
				srcs = append(srcs, src)
			}
		}
		for _, src := range srcs {
			wg.Go(func() {
				if !sleep(ctx, rand.N(w.c.Jitter+1)) {
					return
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				doc, err := ck.crl(ctx, src, is.Cert, true)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					s.CRLs[err.Outcome]++
				} else {
					s.CRLs[OK]++
				}
				if doc != nil {
					held[is.ID] = append(held[is.ID], heldCRL{src, doc})
				}
			})
		}
	}
	wg.Wait()

	type job struct {
		d  Device
		is *Issuer
	}
	jobs := make(chan job)
	for range w.c.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				w.askOCSP(ctx, j.d, j.is, &s, &mu)
			}
		})
	}
	var devicesN, unknownN, byCRLN int // counted here, added to s once the workers are done
	for d := range devices {
		if ctx.Err() != nil {
			break
		}
		devicesN++
		is := byID[d.IssuerID]
		if is == nil || d.Serial == nil {
			unknownN++
			continue
		}
		covered := false
		for _, h := range held[d.IssuerID] {
			if h.doc.scoped && !slices.Contains(d.CRLURLs, h.src.URL) {
				continue
			}
			covered = true
			if rev, ok := h.doc.lookup(d.Serial); ok {
				w.revoked(ctx, d, rev, Evidence{Source: h.src, Status: Revoked, Revocation: rev, ThisUpdate: h.doc.thisUpdate, NextUpdate: h.doc.nextUpdate}, &s, &mu)
				break
			}
		}
		if covered {
			byCRLN++
			continue
		}
		select {
		case jobs <- job{d, is}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	s.Devices += devicesN
	s.Unknown += unknownN
	s.ByCRL += byCRLN
	s.Elapsed = time.Since(started)
	return s
}

// askOCSP checks one device with its responders, in turn, until one answers good or revoked.
func (w *Watcher) askOCSP(ctx context.Context, d Device, is *Issuer, s *Summary, mu *sync.Mutex) {
	for _, src := range d.OCSP {
		if src.Kind != KindOCSP {
			continue
		}
		a, err := w.c.Checker.ocspFor(ctx, src, is.Cert, d.Serial, w.c.FreshOCSP)
		mu.Lock()
		if err != nil {
			s.OCSP[err.Outcome]++
		} else {
			s.OCSP[OK]++
		}
		mu.Unlock()
		if err != nil || a.status == Unknown {
			continue
		}
		if a.status == Revoked {
			w.revoked(ctx, d, a.revocation, Evidence{Source: src, Status: Revoked, Revocation: a.revocation, ThisUpdate: a.thisUpdate, NextUpdate: a.nextUpdate, Nonce: a.nonce}, s, mu)
		}
		mu.Lock()
		s.ByOCSP++
		mu.Unlock()
		return
	}
	mu.Lock()
	s.Unknown++
	mu.Unlock()
}

// revoked counts a revoked device and reports it unless it was reported before.
func (w *Watcher) revoked(ctx context.Context, d Device, rev Revocation, ev Evidence, s *Summary, mu *sync.Mutex) {
	mu.Lock()
	s.Revoked++
	mu.Unlock()
	key := d.IssuerID + "\x00" + serialKey(d.Serial)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reported[key] {
		return
	}
	err := w.c.OnRevoked(ctx, RevokedDevice{IssuerID: d.IssuerID, Serial: d.Serial, Revocation: rev, Evidence: ev})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		s.CallbackErrors++
		return
	}
	w.reported[key] = true
	s.Reported++
}

// Run calls Refresh every Interval with what load returns, and then done with the summary
// (or load's error), until ctx ends. A round that overruns the interval is followed at once
// by the next.
func (w *Watcher) Run(ctx context.Context, load func(context.Context) ([]Issuer, iter.Seq[Device], error), done func(Summary, error)) {
	for {
		start := time.Now()
		issuers, devices, err := load(ctx)
		var s Summary
		if err == nil {
			s = w.Refresh(ctx, issuers, devices)
		}
		if ctx.Err() != nil {
			return
		}
		if done != nil {
			done(s, err)
		}
		if !sleep(ctx, w.c.Interval-time.Since(start)) {
			return
		}
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
