package makerstatus

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// crlCache holds the last good CRL of every CRL source.
type crlCache struct {
	mu sync.Mutex
	m  map[sourceKey]*crlEntry
}

// crlEntry is one CRL source's held CRL and fetch state.
type crlEntry struct {
	lock chan struct{} // capacity 1: one fetch at a time
	doc  atomic.Pointer[crlDoc]
	// Guarded by lock.
	fetchedAt time.Time    // real time the last fetch started
	lastErr   *SourceError // of the last fetch, nil if it succeeded
	lastErrAt time.Time    // Config.Now of lastErr
}

func (cc *crlCache) entry(k sourceKey) *crlEntry {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e := cc.m[k]
	if e == nil {
		e = &crlEntry{lock: make(chan struct{}, 1)}
		cc.m[k] = e
	}
	return e
}

// crl returns src's CRL for issuer, fresh at now. Unless force, a fresh CRL held is returned
// without fetching, and a source whose last fetch failed less than RetryAfter ago is not
// fetched again. Concurrent callers share one fetch. With force (the Watcher) src is fetched
// and fetchErr is that fetch's failure even when a CRL held is still fresh and returned.
func (c *Checker) crl(ctx context.Context, src Source, issuer *x509.Certificate, force bool) (doc *crlDoc, fetchErr *SourceError) {
	e := c.crls.entry(keyOf(src, issuer))
	skew := c.c.ClockSkew
	if d := e.doc.Load(); !force && d != nil && d.fresh(c.c.Now(), skew) {
		return d, nil
	}
	asked := time.Now()
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, &SourceError{Source: src, Outcome: Unreachable, Err: ctx.Err()}
	}
	defer func() { <-e.lock }()
	now := c.c.Now()
	held := e.doc.Load()
	switch {
	case e.fetchedAt.After(asked):
		// Another caller fetched while this one waited; its result stands.
	case !force && held != nil && held.fresh(now, skew):
	case !force && e.lastErr != nil && now.Sub(e.lastErrAt) < c.c.RetryAfter:
	default:
		e.fetchedAt = time.Now()
		f, err := c.f.fetch(ctx, src, http.MethodGet, src.URL, nil, "", c.c.CRLTimeout, c.c.MaxCRLBytes)
		var d *crlDoc
		if err == nil {
			d, err = verifyCRL(f.body, src, issuer, held, now, skew)
		}
		if err == nil {
			e.doc.Store(d)
			held = d
		}
		e.lastErr, e.lastErrAt = err, now
		c.states.record(c.c.Observer, keyOf(src, issuer), issuer, err, f.elapsed, now, held)
		if force && err != nil {
			fetchErr = err
		}
	}
	if held != nil && held.fresh(now, skew) {
		return held, fetchErr
	}
	if e.lastErr != nil {
		return nil, e.lastErr
	}
	return nil, &SourceError{Source: src, Outcome: Stale, Err: errors.New("the CRL held is no longer fresh")}
}

// ocspKey names one cached OCSP answer.
type ocspKey struct {
	src    sourceKey
	serial string
}

// ocspCache holds OCSP answers until their nextUpdate, at most max of them, and when each
// responder last failed to answer.
type ocspCache struct {
	mu   sync.Mutex
	max  int
	m    map[ocspKey]*ocspAnswer
	down map[Source]*SourceError // the last Unreachable of a responder, by URL
	at   map[Source]time.Time
}

func newOCSPCache(max int) *ocspCache {
	return &ocspCache{max: max, m: map[ocspKey]*ocspAnswer{}, down: map[Source]*SourceError{}, at: map[Source]time.Time{}}
}

func (oc *ocspCache) get(k ocspKey) *ocspAnswer {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	return oc.m[k]
}

// put caches a, first dropping expired answers (looking at a bounded number) and, if the
// cache is still full, one arbitrary answer: a full cache costs a refetch, never memory.
func (oc *ocspCache) put(k ocspKey, a *ocspAnswer, now time.Time) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if _, ok := oc.m[k]; !ok && len(oc.m) >= oc.max {
		looked := 0
		for old, v := range oc.m { // map order is random
			if looked++; looked > 64 {
				break
			}
			if now.After(v.expires) {
				delete(oc.m, old)
			}
		}
		for old := range oc.m {
			if len(oc.m) < oc.max {
				break
			}
			delete(oc.m, old)
		}
	}
	oc.m[k] = a
}

func (oc *ocspCache) setDown(src Source, err *SourceError, now time.Time) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if err == nil {
		delete(oc.down, src)
		delete(oc.at, src)
		return
	}
	oc.down[src], oc.at[src] = err, now
}

func (oc *ocspCache) isDown(src Source, now time.Time, retry time.Duration) *SourceError {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if err := oc.down[src]; err != nil && now.Sub(oc.at[src]) < retry {
		return err
	}
	return nil
}

// ocspFor returns the answer of responder src about serial of issuer, fresh at now: a
// cached one, or one asked for now. A responder that was unreachable less than RetryAfter
// ago is not asked again; its error is returned.
func (c *Checker) ocspFor(ctx context.Context, src Source, issuer *x509.Certificate, serial *big.Int, fresh bool) (*ocspAnswer, *SourceError) {
	now := c.c.Now()
	sk := keyOf(src, issuer)
	k := ocspKey{src: sk, serial: serialKey(serial)}
	if a := c.ocsp.get(k); !fresh && a != nil && a.fresh(now, c.c.ClockSkew) {
		return a, nil
	}
	if err := c.ocsp.isDown(src, now, c.c.RetryAfter); !fresh && err != nil {
		return nil, err
	}
	fail := func(err error) (*ocspAnswer, *SourceError) {
		return nil, &SourceError{Source: src, Outcome: Invalid, Err: err}
	}
	if serial == nil {
		return fail(errors.New("no serial"))
	}
	id, err := newCertID(issuer, serial, crypto.SHA1)
	if err != nil {
		return fail(err)
	}
	var nonce []byte
	if !c.c.NoNonce {
		nonce = make([]byte, nonceLen)
		if _, err := rand.Read(nonce); err != nil {
			return fail(err)
		}
	}
	req, err := buildRequest(id, nonce)
	if err != nil {
		return fail(err)
	}
	var f fetched
	var serr *SourceError
	if c.c.OCSPGet {
		u := strings.TrimSuffix(src.URL, "/") + "/" + url.QueryEscape(base64.StdEncoding.EncodeToString(req))
		f, serr = c.f.fetch(ctx, src, http.MethodGet, u, nil, "", c.c.OCSPTimeout, c.c.MaxOCSPBytes)
	} else {
		f, serr = c.f.fetch(ctx, src, http.MethodPost, src.URL, req, "application/ocsp-request", c.c.OCSPTimeout, c.c.MaxOCSPBytes)
	}
	var a *ocspAnswer
	if serr == nil {
		a, serr = verifyOCSP(f.body, src, issuer, id, nonce, now, c.c.ClockSkew, c.c.OCSPMaxAge)
	}
	switch {
	case serr == nil:
		c.ocsp.setDown(src, nil, now)
		if !a.nextUpdate.IsZero() {
			c.ocsp.put(k, a, now)
		}
	case serr.Outcome == Unreachable:
		c.ocsp.setDown(src, serr, now)
	}
	c.states.record(c.c.Observer, sk, issuer, serr, f.elapsed, now, nil)
	return a, serr
}

// states keeps the last state of every source.
type states struct {
	mu sync.Mutex
	m  map[sourceKey]*SourceState
}

// record notes one fetch of k and tells obs. held is the CRL held after it (nil for OCSP).
func (s *states) record(obs Observer, k sourceKey, issuer *x509.Certificate, err *SourceError, elapsed time.Duration, now time.Time, held *crlDoc) {
	o := OK
	if err != nil {
		o = err.Outcome
	}
	s.mu.Lock()
	st := s.m[k]
	if st == nil {
		st = &SourceState{Source: k.src, Issuer: issuer.Subject.String()}
		s.m[k] = st
	}
	st.Outcome, st.LastAttempt, st.Err = o, now, ""
	st.Fetches++
	if err != nil {
		st.Err = err.Err.Error()
		st.Failures++
		if st.FailingSince.IsZero() {
			st.FailingSince = now
		}
	} else {
		st.LastOK, st.FailingSince = now, time.Time{}
	}
	if held != nil {
		st.HeldThis, st.HeldNext, st.HeldEntries = held.thisUpdate, held.nextUpdate, len(held.entries)
	}
	s.mu.Unlock()
	if obs != nil {
		var e error
		if err != nil {
			e = err
		}
		obs.Fetched(k.src, o, elapsed, e)
	}
}

func (s *states) list() []SourceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SourceState, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, *st)
	}
	return out
}
