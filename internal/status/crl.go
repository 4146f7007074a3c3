package status

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/issuance"
	"github.com/hallmark-id/hallmark/internal/store"
)

// crlDoc is a built CRL.
type crlDoc struct {
	der        []byte
	number     int64
	thisUpdate time.Time
	nextUpdate time.Time
	etag       string
	entries    int
}

// crlState is one CRL of a CA, the full CRL or one partition, with its build state.
type crlState struct {
	part    int // the partition, -1 for the full CRL
	doc     atomic.Pointer[crlDoc]
	dirty   atomic.Bool
	builtAt atomic.Int64 // unix nanoseconds of the last build
	// fetchedAt is when a request last asked for this CRL (real time, unix nanoseconds).
	fetchedAt atomic.Int64
	// followedAt is when a follower last read the stored CRL (crlstore.go).
	followedAt atomic.Int64

	mu       sync.Mutex // guards the fields below
	flight   *crlFlight // the build under way, nil when none
	failedAt time.Time  // when the last build failed (real time); zero after a success
	err      error      // why
}

// crlFlight is one build of a CRL, which every caller that asks meanwhile waits for.
type crlFlight struct {
	done chan struct{}
	doc  *crlDoc
	err  error
}

// onDemand reports whether cr, a CRL of cs, is rebuilt for changes only while it is
// fetched: the full CRL of a partitioned CA, which no certificate of a device names.
// Rebuilding it (a million entries take about a second) on every change would undo what
// partitions save; like every CRL it is still rebuilt every CRLInterval.
func (cs *caState) onDemand(cr *crlState) bool { return cr.part < 0 && len(cs.parts) > 0 }

// crlLoop rebuilds dirty CRLs at once (at most once per CRLMinGap each) and every CRL every
// CRLInterval. A change marks the full CRL and only its own partition dirty, so under a
// partitioned CA a revocation rebuilds one partition, and the full CRL only while it is
// fetched, at most once per FullCRLMinGap. Partitions are built only while a base URL names
// them.
func (s *Service) crlLoop(ctx context.Context) {
	t := time.NewTicker(max(s.c.CRLMinGap/4, 50*time.Millisecond)) // a dirty CRL waits at most CRLMinGap and a quarter
	defer t.Stop()
	var disputesSeen uint64 // the disputed set's generation the CRLs were last marked for
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		s.mu.RLock()
		list := make([]*caState, 0, len(s.cas))
		for _, cs := range s.cas {
			list = append(list, cs)
		}
		s.mu.RUnlock()
		if !s.leading() { // a follower serves the leader's stored CRLs (crlstore.go)
			s.followCRLs(ctx, list)
			continue
		}
		if d := s.c.Disputes; d != nil {
			if g := d.Generation(); g != disputesSeen {
				disputesSeen = g
				for _, cs := range list {
					cs.markAllDirty()
				}
			}
		}
		named := s.c.URLs.Base() != ""
		started := time.Now()
		built := false
		for _, cs := range list {
			crls := []*crlState{&cs.crl}
			for i := range cs.parts {
				if named {
					crls = append(crls, &cs.parts[i])
				}
			}
			for _, cr := range crls {
				if ctx.Err() != nil {
					return
				}
				if !s.due(cs, cr) {
					continue
				}
				built = true
				if _, err := s.buildCRL(ctx, cs, cr); err != nil && ctx.Err() == nil {
					s.c.Log.Warn("status: building a CRL", "ca_id", cs.c.ID, "partition", cr.part, "err", err)
				}
			}
		}
		if built {
			select {
			case <-ctx.Done():
				return
			case <-time.After(crlPause(time.Since(started), s.c.CRLInterval)):
			}
		}
	}
}

// crlShare is the most of one CPU that rebuilding CRLs may take while revocations stream in.
// Measured in a renewal storm of a million devices, where every renewal revokes the previous
// certificate as superseded: the 16 partitions of the operational CA, rebuilt whenever dirty,
// kept the leader building CRLs of tens of thousands of entries without pause, and its memory
// grew with them. OCSP answers are not paced: they show a revocation within a poll.
const crlShare = 0.2

// crlPause is how long the CRL loop rests after a round of builds that took spent, so that
// building takes at most crlShare of a CPU: nothing to speak of for small CRLs (a few
// milliseconds), seconds for a round of million-entry partitions, never more than a quarter
// of the interval at which every CRL is rebuilt anyway.
func crlPause(spent, interval time.Duration) time.Duration {
	return min(time.Duration(float64(spent)*(1/crlShare-1)), interval/4)
}

// due reports whether the loop should build cr, a CRL of cs: it has none, or one older than
// CRLInterval, or it is dirty and was last built at least CRLMinGap ago. The full CRL of a
// partitioned CA (onDemand) counts as dirty only while it was fetched within the last
// CRLInterval, and its gap is FullCRLMinGap. A failed build is retried after CRLMinGap.
func (s *Service) due(cs *caState, cr *crlState) bool {
	if failed, _ := cr.failure(); time.Since(failed) < s.c.CRLMinGap { // gaps in real time, whatever Now says
		return false
	}
	if s.stale(cs, cr.doc.Load()) {
		return true
	}
	if !cr.dirty.Load() {
		return false
	}
	gap := s.c.CRLMinGap
	if cs.onDemand(cr) {
		if time.Since(time.Unix(0, cr.fetchedAt.Load())) >= s.c.CRLInterval {
			return false
		}
		gap = s.c.FullCRLMinGap
	}
	return time.Since(time.Unix(0, cr.builtAt.Load())) >= gap
}

// stale reports whether doc, a CRL of cs, is missing or older than CRLInterval
// (RootCRLInterval for a root): a CRL that must not be served while a fresher one can be
// built, or the promise that a revocation shows in the CRL within one interval would break.
func (s *Service) stale(cs *caState, doc *crlDoc) bool {
	return doc == nil || s.c.Now().Sub(doc.thisUpdate) >= s.crlInterval(cs)
}

// failure returns when the last build of cr failed (zero after a success) and why.
func (cr *crlState) failure() (time.Time, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.failedAt, cr.err
}

// CRL returns the current DER full CRL of caID, building it when there is none or it is
// older than CRLInterval (or, under a partitioned CA, when it is dirty: see onDemand).
func (s *Service) CRL(ctx context.Context, caID string) ([]byte, error) {
	cs := s.caNamed(ctx, caID)
	if cs == nil {
		return nil, fmt.Errorf("status: no CA %s with a key", caID)
	}
	doc, err := s.currentCRL(ctx, cs, &cs.crl)
	if err != nil {
		return nil, err
	}
	return doc.der, nil
}

// PartitionCRL returns the current DER CRL of partition p of caID, as CRL does.
func (s *Service) PartitionCRL(ctx context.Context, caID string, p int) ([]byte, error) {
	cs := s.caNamed(ctx, caID)
	if cs == nil {
		return nil, fmt.Errorf("status: no CA %s with a key", caID)
	}
	if p < 0 || p >= len(cs.parts) {
		return nil, fmt.Errorf("status: CA %s has no CRL partition %d", caID, p)
	}
	doc, err := s.currentCRL(ctx, cs, &cs.parts[p])
	if err != nil {
		return nil, err
	}
	return doc.der, nil
}

// currentCRL returns cr's CRL for a request. A request never builds a CRL that it can be
// served from memory: the last CRL built is served while it is younger than CRLInterval,
// and the loop rebuilds it for changes (due). Only when there is none, or the one there is
// is older than CRLInterval, does the request build it, sharing one build with every
// request that arrives meanwhile (buildCRL); after a failed build, requests are served the
// last CRL while it is valid, or the error, without building again for CRLMinGap.
func (s *Service) currentCRL(ctx context.Context, cs *caState, cr *crlState) (*crlDoc, error) {
	cr.fetchedAt.Store(time.Now().UnixNano())
	doc := cr.doc.Load()
	if !s.stale(cs, doc) {
		s.crlServed[servedMemory].Add(1)
		return doc, nil
	}
	if !s.leading() {
		s.crlServed[servedStore].Add(1)
		return s.followerCRL(ctx, cs, cr)
	}
	var built *crlDoc
	failed, err := cr.failure()
	if time.Since(failed) >= s.c.CRLMinGap {
		s.crlServed[servedBuild].Add(1)
		// The build is not the request's alone: it goes on when the client that started it
		// leaves, and the others waiting for it get it.
		built, err = s.shareBuild(ctx, context.WithoutCancel(ctx), cs, cr)
	}
	if err != nil && doc != nil && s.c.Now().Before(doc.nextUpdate) {
		return doc, nil // the last CRL is still valid; the loop retries the build
	}
	return built, err
}

// buildCRL builds cr, or, when a build of cr is under way, waits for that one and returns
// its result: concurrent callers share one build (single flight).
func (s *Service) buildCRL(ctx context.Context, cs *caState, cr *crlState) (*crlDoc, error) {
	return s.shareBuild(ctx, ctx, cs, cr)
}

// shareBuild is buildCRL with two contexts: wait bounds how long this caller waits for a
// build under way, run is the context of the build when this caller starts one.
func (s *Service) shareBuild(wait, run context.Context, cs *caState, cr *crlState) (*crlDoc, error) {
	cr.mu.Lock()
	if f := cr.flight; f != nil {
		cr.mu.Unlock()
		select {
		case <-f.done:
			return f.doc, f.err
		case <-wait.Done():
			return nil, wait.Err()
		}
	}
	f := &crlFlight{done: make(chan struct{})}
	cr.flight = f
	cr.mu.Unlock()
	defer func() {
		cr.mu.Lock()
		cr.flight = nil
		if f.err != nil {
			cr.failedAt, cr.err = time.Now(), f.err
		} else {
			cr.failedAt, cr.err = time.Time{}, nil
		}
		cr.mu.Unlock()
		close(f.done)
	}()
	f.doc, f.err = s.build(run, cs, cr)
	return f.doc, f.err
}

// build reads the unexpired revocations that cr covers (all of the CA's, or one
// partition's), takes the CA's next CRL number and has the authority's issuer sign the CRL;
// a partition CRL carries a critical issuingDistributionPoint naming its URL. Call it through
// buildCRL, which lets one build of a CRL run at a time.
//
// CRL numbers come from the one counter per CA, which every build of the full CRL or any
// partition increments, so each CRL's numbers grow monotonically (RFC 5280 section 5.2.3),
// across restarts and replicas.
func (s *Service) build(ctx context.Context, cs *caState, cr *crlState) (*crlDoc, error) {
	started := time.Now() // builtAt is real time too
	var dp string
	if cr.part >= 0 {
		base := s.c.URLs.Base()
		if base == "" {
			return nil, fmt.Errorf("status: partition %d of %s: no base URL to name it", cr.part, cs.c.ID)
		}
		dp = partitionURL(base, cs.c.ID, cr.part)
	}
	cr.dirty.Store(false) // changes from here on make it dirty again
	now := s.c.Now().Truncate(time.Second)
	// Size the slices from the last build: growing a slice of a million entries copies it
	// twenty times. Serials are decoded into one arena rather than a slice each.
	hint := 1024
	if doc := cr.doc.Load(); doc != nil {
		hint += doc.entries + doc.entries/8
	}
	entries := make([]issuance.CRLEntry, 0, hint)
	arena := make([]byte, 0, hint*16)
	add := func(e store.RevokedEntry) error {
		start := len(arena)
		var ok bool
		if arena, ok = appendHex(arena, e.SerialHex); !ok {
			return fmt.Errorf("serial %q is not hex", e.SerialHex)
		}
		entries = append(entries, issuance.CRLEntry{Serial: arena[start:len(arena):len(arena)], RevokedAt: e.RevokedAt, Reason: e.Reason})
		return nil
	}
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		entries, arena = entries[:0], arena[:0] // a retried transaction starts over
		var err error
		if cr.part >= 0 {
			err = tx.Status().EachRevokedInPartition(cs.c.ID, cr.part, now, add)
		} else {
			err = tx.Status().EachRevoked(cs.c.ID, now, add)
		}
		if err != nil {
			return err
		}
		return disputedEntries(tx, cs, cr, now, add)
	})
	if err != nil {
		cr.dirty.Store(true)
		return nil, fmt.Errorf("status: revoked certificates of %s: %w", cs.c.ID, err)
	}
	var number int64
	if err := s.c.Store.Update(ctx, func(tx store.Tx) (err error) { number, err = tx.Status().NextCRLNumber(cs.c.ID); return err }); err != nil {
		cr.dirty.Store(true)
		return nil, fmt.Errorf("status: CRL number of %s: %w", cs.c.ID, err)
	}
	is, err := s.c.Authority.Issuer(ctx, cs.c)
	if err != nil {
		cr.dirty.Store(true)
		return nil, err
	}
	next := now.Add(s.crlLifetime(cs))
	if na := cs.c.Cert.NotAfter; next.After(na) {
		next = na
	}
	der, err := is.SignCRL(issuance.CRLParams{Number: number, ThisUpdate: now, NextUpdate: next, Entries: entries, DistributionPoint: dp}, rand.Reader)
	if err != nil {
		cr.dirty.Store(true)
		return nil, fmt.Errorf("status: signing the CRL of %s: %w", cs.c.ID, err)
	}
	sum := sha256.Sum256(der)
	doc := &crlDoc{der: der, number: number, thisUpdate: now, nextUpdate: next, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, entries: len(entries)}
	if err := s.storeCRL(ctx, cs, cr, doc); err != nil { // replicas: the leader's CRL is served once stored (crlstore.go)
		cr.dirty.Store(true)
		return nil, fmt.Errorf("status: storing CRL %d of %s: %w", number, cs.c.ID, err)
	}
	cr.doc.Store(doc)
	cr.builtAt.Store(time.Now().UnixNano())
	if cr.part < 0 {
		s.crlBuilds[0].Add(1)
	} else {
		s.crlBuilds[1].Add(1)
	}
	s.c.Log.Debug("status: CRL built", "ca_id", cs.c.ID, "partition", cr.part, "number", number, "entries", len(entries), "bytes", len(der), "ms", time.Since(started).Milliseconds())
	return doc, nil
}

// disputedEntries adds to a CRL of cs the certificates whose rows disagree with the audit log
// (the disputes the last reconciliation recorded) and that the CRL covers: unexpired, of this
// CA and, for a partition CRL, of its partition. Each is listed on hold (certificateHold,
// revoked at the time the dispute was found), the CRL's counterpart of the OCSP responder's
// tryLater: a row edited outside Hallmark, to revoke or to un-revoke, must not be vouched
// for as good, and a hold is removed from a later CRL (RFC 5280 section 5.3.1) once the
// dispute is settled. A row that says revoked is listed as it says. Disputes are rare, and
// none is the normal case: one indexed read of an empty table.
func disputedEntries(tx store.Tx, cs *caState, cr *crlState, now time.Time, add func(store.RevokedEntry) error) error {
	ds, err := tx.StateRows().Disputes()
	if err != nil || len(ds) == 0 {
		return err
	}
	for _, d := range ds {
		serial, ok := new(big.Int).SetString(d.Serial, 16)
		if !ok {
			return fmt.Errorf("disputed serial %q is not hex", d.Serial)
		}
		c, err := tx.Certificates().GetCert(serial)
		if errors.Is(err, store.ErrNotFound) {
			continue // a row deleted: nothing a CRL of its serial can say that it does not
		}
		if err != nil {
			return fmt.Errorf("disputed certificate %s: %w", d.Serial, err)
		}
		if c.CAID != cs.c.ID || (cr.part >= 0 && c.CRLPartition != cr.part) || !c.NotAfter.After(now) || c.State == ca.Revoked {
			continue
		}
		if err := add(store.RevokedEntry{SerialHex: c.SerialHex, RevokedAt: d.FoundAt, Reason: reasonCertificateHold}); err != nil {
			return err
		}
	}
	return nil
}

// reasonCertificateHold is RFC 5280's CRLReason certificateHold.
const reasonCertificateHold = 6

// appendHex appends the bytes of a hex serial (odd length allowed: Hallmark's serial text
// has no leading zero).
func appendHex(dst []byte, h string) ([]byte, bool) {
	i := 0
	if len(h)%2 == 1 {
		lo, ok := fromHex(h[0])
		if !ok {
			return dst, false
		}
		dst, i = append(dst, lo), 1
	}
	for ; i < len(h); i += 2 {
		hi, ok1 := fromHex(h[i])
		lo, ok2 := fromHex(h[i+1])
		if !ok1 || !ok2 {
			return dst, false
		}
		dst = append(dst, hi<<4|lo)
	}
	return dst, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// serveCRL serves GET /crl/<ca-id>.crl (the full CRL) and /crl/<ca-id>-<p>.crl (partition
// p, 0 ≤ p < P, while a base URL is set): DER, application/pkix-crl, with an ETag and a
// max-age that ends when the next scheduled build does. Any other name is 404.
func (s *Service) serveCRL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	cs, cr := s.crlNamed(r)
	if cr == nil {
		http.NotFound(w, r)
		return
	}
	doc, err := s.currentCRL(r.Context(), cs, cr)
	if err != nil {
		s.c.Log.Error("status: serving a CRL", "ca_id", cs.c.ID, "partition", cr.part, "err", err)
		http.Error(w, "CRL unavailable", http.StatusServiceUnavailable)
		return
	}
	age := max(0, int(doc.thisUpdate.Add(s.crlInterval(cs)).Sub(s.c.Now()).Seconds()))
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, no-transform", age))
	w.Header().Set("ETag", doc.etag)
	http.ServeContent(w, r, "", doc.thisUpdate, bytes.NewReader(doc.der))
}

// crlNamed finds the CRL a request path names; nil when there is none. A CA ID holds no
// "-" after its "ca-" prefix, so "<ca-id>-<p>" is unambiguous; p must be written without
// leading zeros, so each partition has one URL.
func (s *Service) crlNamed(r *http.Request) (*caState, *crlState) {
	name := strings.TrimPrefix(r.URL.Path, "/crl/")
	id, ok := strings.CutSuffix(name, ".crl")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, nil
	}
	part, prefix := -1, ""
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		if p, err := strconv.Atoi(id[i+1:]); err == nil && p >= 0 && strconv.Itoa(p) == id[i+1:] {
			part, prefix = p, id[:i]
		}
	}
	for reloaded := false; ; reloaded = true {
		if cs := s.caByID(id); cs != nil {
			return cs, &cs.crl
		}
		if cs := s.caByID(prefix); cs != nil && part >= 0 {
			if part >= len(cs.parts) || s.c.URLs.Base() == "" {
				return nil, nil
			}
			return cs, &cs.parts[part]
		}
		if reloaded || !s.reloadCAs(r.Context()) {
			return nil, nil
		}
	}
}
