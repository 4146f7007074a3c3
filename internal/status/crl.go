package status

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// crlLoop rebuilds dirty CRLs at once (at most once per CRLMinGap each) and every CRL every
// CRLInterval.
func (s *Service) crlLoop(ctx context.Context) {
	t := time.NewTicker(max(s.c.CRLMinGap/4, 50*time.Millisecond)) // a dirty CRL waits at most CRLMinGap and a quarter
	defer t.Stop()
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
		now := s.c.Now()
		for _, cs := range list {
			doc := cs.crl.Load()
			last := time.Unix(0, cs.builtAt.Load())
			stale := doc == nil || now.Sub(doc.thisUpdate) >= s.c.CRLInterval
			if !stale && !(cs.dirty.Load() && time.Since(last) >= s.c.CRLMinGap) { // the gap in real time, whatever Now says
				continue
			}
			if _, err := s.buildCRL(ctx, cs); err != nil && ctx.Err() == nil {
				s.c.Log.Warn("status: building a CRL", "ca_id", cs.c.ID, "err", err)
			}
		}
	}
}

// CRL returns the current DER CRL of caID, building it when there is none or it is older than
// CRLInterval.
func (s *Service) CRL(ctx context.Context, caID string) ([]byte, error) {
	cs := s.caNamed(ctx, caID)
	if cs == nil {
		return nil, fmt.Errorf("status: no issuing CA %s", caID)
	}
	doc, err := s.currentCRL(ctx, cs)
	if err != nil {
		return nil, err
	}
	return doc.der, nil
}

func (s *Service) currentCRL(ctx context.Context, cs *caState) (*crlDoc, error) {
	doc := cs.crl.Load()
	if doc != nil && s.c.Now().Sub(doc.thisUpdate) < s.c.CRLInterval {
		return doc, nil
	}
	if !s.leading() {
		return s.followerCRL(ctx, cs)
	}
	built, err := s.buildCRL(ctx, cs)
	if err != nil && doc != nil && s.c.Now().Before(doc.nextUpdate) {
		return doc, nil // the last CRL is still valid; the loop retries the build
	}
	return built, err
}

// buildCRL reads the CA's unexpired revocations, takes the next CRL number and has the
// authority's issuer sign the CRL. Builds of one CA are serialised.
func (s *Service) buildCRL(ctx context.Context, cs *caState) (*crlDoc, error) {
	started := time.Now() // builtAt is real time too
	cs.crlMu.Lock()
	defer cs.crlMu.Unlock()
	if doc := cs.crl.Load(); doc != nil && time.Unix(0, cs.builtAt.Load()).After(started) {
		return doc, nil // another caller built it while this one waited
	}
	cs.dirty.Store(false) // changes from here on make it dirty again
	now := s.c.Now().Truncate(time.Second)
	// Size the slices from the last build: growing a slice of a million entries copies it
	// twenty times. Serials are decoded into one arena rather than a slice each.
	hint := 1024
	if doc := cs.crl.Load(); doc != nil {
		hint += doc.entries + doc.entries/8
	}
	entries := make([]issuance.CRLEntry, 0, hint)
	arena := make([]byte, 0, hint*16)
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		return tx.Status().EachRevoked(cs.c.ID, now, func(e store.RevokedEntry) error {
			start := len(arena)
			var ok bool
			if arena, ok = appendHex(arena, e.SerialHex); !ok {
				return fmt.Errorf("serial %q is not hex", e.SerialHex)
			}
			entries = append(entries, issuance.CRLEntry{Serial: arena[start:len(arena):len(arena)], RevokedAt: e.RevokedAt, Reason: e.Reason})
			return nil
		})
	})
	if err != nil {
		cs.dirty.Store(true)
		return nil, fmt.Errorf("status: revoked certificates of %s: %w", cs.c.ID, err)
	}
	var number int64
	if err := s.c.Store.Update(ctx, func(tx store.Tx) (err error) { number, err = tx.Status().NextCRLNumber(cs.c.ID); return err }); err != nil {
		cs.dirty.Store(true)
		return nil, fmt.Errorf("status: CRL number of %s: %w", cs.c.ID, err)
	}
	is, err := s.c.Authority.Issuer(ctx, cs.c)
	if err != nil {
		return nil, err
	}
	next := now.Add(s.c.CRLLifetime)
	if na := cs.c.Cert.NotAfter; next.After(na) {
		next = na
	}
	der, err := is.SignCRL(issuance.CRLParams{Number: number, ThisUpdate: now, NextUpdate: next, Entries: entries}, rand.Reader)
	if err != nil {
		cs.dirty.Store(true)
		return nil, fmt.Errorf("status: signing the CRL of %s: %w", cs.c.ID, err)
	}
	sum := sha256.Sum256(der)
	doc := &crlDoc{der: der, number: number, thisUpdate: now, nextUpdate: next, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, entries: len(entries)}
	if err := s.storeCRL(ctx, cs, doc); err != nil { // replicas: the leader's CRL is served once stored (crlstore.go)
		cs.dirty.Store(true)
		return nil, fmt.Errorf("status: storing CRL %d of %s: %w", number, cs.c.ID, err)
	}
	cs.crl.Store(doc)
	cs.builtAt.Store(time.Now().UnixNano())
	s.c.Log.Debug("status: CRL built", "ca_id", cs.c.ID, "number", number, "entries", len(entries), "bytes", len(der), "ms", time.Since(started).Milliseconds())
	return doc, nil
}

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

// serveCRL serves GET /crl/<ca-id>.crl: DER, application/pkix-crl, with an ETag and a
// max-age that ends when the next scheduled build does.
func (s *Service) serveCRL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/crl/")
	id, ok := strings.CutSuffix(name, ".crl")
	if !ok || id == "" || strings.Contains(id, "/") {
		http.NotFound(w, r)
		return
	}
	cs := s.caNamed(r.Context(), id)
	if cs == nil {
		http.NotFound(w, r)
		return
	}
	doc, err := s.currentCRL(r.Context(), cs)
	if err != nil {
		s.c.Log.Error("status: serving a CRL", "ca_id", id, "err", err)
		http.Error(w, "CRL unavailable", http.StatusServiceUnavailable)
		return
	}
	age := max(0, int(doc.thisUpdate.Add(s.c.CRLInterval).Sub(s.c.Now()).Seconds()))
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, no-transform", age))
	w.Header().Set("ETag", doc.etag)
	http.ServeContent(w, r, "", doc.thisUpdate, bytes.NewReader(doc.der))
}
