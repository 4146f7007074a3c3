package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/store"
)

// issuerCache is the EST listener's est.Issuers: every CA certificate the deployment holds
// (its roots and issuing CAs of every stage, and the anchors operators registered with
// `anchor register`) and the anchors and intermediates of every registered maker that does
// not run Hallmark (`maker register`), read from the store and kept in memory, so that a
// handshake costs no query.
//
// Contract:
//   - The set is read again every issuerRefresh, by the handshake that finds it older (the
//     others keep using the one they have), and when a certificate is not found in it (a CA
//     made a moment ago), at most once per issuerMissGap however many strangers knock, or at
//     once after invalidate (a maker registered or changed on this replica).
//   - Each read is bounded by issuerReadTimeout.
//   - Fail closed: while the last read failed, every client certificate is refused (a client
//     without one still reaches cacerts); the read is tried again at most once per
//     issuerMissGap.
type issuerCache struct {
	load func(context.Context) ([]*x509.Certificate, error)
	now  func() time.Time
	log  *slog.Logger
	// sig checks the handshake's signatures and remembers those that verified, for the
	// enrollment's factory chain check (operational.Service.Signatures); nil: x509 alone.
	sig est.SignatureChecker

	mu    sync.Mutex // one read at a time
	snap  atomic.Pointer[issuerSnap]
	stale atomic.Bool // set by invalidate: the next miss reads again at once
}

type issuerSnap struct {
	set *est.IssuerSet // nil when err
	err error
	at  time.Time
}

// Bounds of issuerCache.
const (
	issuerRefresh     = 30 * time.Second
	issuerMissGap     = time.Second
	issuerReadTimeout = 2 * time.Second
)

var _ est.Issuers = (*issuerCache)(nil)

// newIssuerCache reads the CAs and makers of st once (a failure is logged and retried at the first
// handshake). Its signature checks go through sig (nil: x509 alone).
func newIssuerCache(st store.Store, log *slog.Logger, sig est.SignatureChecker) *issuerCache {
	c := &issuerCache{now: time.Now, log: log, sig: sig, load: func(ctx context.Context) ([]*x509.Certificate, error) {
		var out []*x509.Certificate
		err := st.View(ctx, func(tx store.Tx) error {
			// Store.View may run this function again (after a lost connection): start over.
			out = nil
			cas, err := tx.CAs().ListCAs("")
			if err != nil {
				return err
			}
			for _, c := range cas {
				out = append(out, c.Cert)
			}
			// A maker's devices present certificates of its CAs (internal/makers).
			makers, err := tx.Makers().ListMakers("")
			for _, m := range makers {
				out = append(out, m.Anchors...)
				out = append(out, m.Intermediates...)
			}
			return err
		})
		return out, err
	}}
	c.refresh(nil, true)
	return c
}

// Issued implements est.Issuers.
func (c *issuerCache) Issued(chain []*x509.Certificate) error {
	s := c.snap.Load()
	now := c.now()
	switch {
	case s == nil, s.err != nil && now.Sub(s.at) >= issuerMissGap:
		s = c.refresh(s, true)
	case now.Sub(s.at) >= issuerRefresh:
		s = c.refresh(s, false)
	}
	if s.err != nil {
		return &est.UnknownIssuerError{Err: fmt.Errorf("the deployment's CAs could not be read: %w", s.err)}
	}
	err := s.set.Issued(chain)
	if err != nil && (c.now().Sub(s.at) >= issuerMissGap || c.stale.Swap(false)) {
		if s = c.refresh(s, true); s.err == nil {
			err = s.set.Issued(chain)
		}
	}
	return err
}

// invalidate has the next miss read the set again without waiting for issuerMissGap. Only
// authenticated changes call it (makers.Config.Changed), so strangers cannot make reads.
func (c *issuerCache) invalidate() { c.stale.Store(true) }

// refresh reads the CAs again unless another caller replaced seen meanwhile, and returns the
// snapshot now in use. Without wait it gives up at once when another read is under way.
func (c *issuerCache) refresh(seen *issuerSnap, wait bool) *issuerSnap {
	if wait {
		c.mu.Lock()
	} else if !c.mu.TryLock() {
		return seen
	}
	defer c.mu.Unlock()
	if cur := c.snap.Load(); cur != seen {
		return cur
	}
	ctx, cancel := context.WithTimeout(context.Background(), issuerReadTimeout)
	defer cancel()
	cas, err := c.load(ctx)
	s := &issuerSnap{err: err, at: c.now()}
	if err != nil {
		c.log.Warn("est: reading the deployment's CAs failed; client certificates are refused until a read succeeds", "err", err)
	} else {
		s.set = est.NewCheckedIssuerSet(cas, c.sig)
	}
	c.snap.Store(s)
	return s
}

// makersChanged is makers.Config.Changed: a maker registered or changed here is known to
// this replica's EST listener at its next handshake, not a second later.
func (a *App) makersChanged() {
	if c := a.estIssuers.Load(); c != nil {
		c.invalidate()
	}
}
