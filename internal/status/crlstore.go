package status

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/internal/leader"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CRLs among replicas (docs/operations.md). With a Leader configured, only the replica that
// holds the signing lease builds and signs CRLs; it stores each one in the database, fenced
// by its lease term, before serving it. Every other replica serves the stored bytes, which
// it re-reads at most CRLMinGap after the leader stored them. Without a Leader (one process,
// tests) the service builds and serves CRLs in memory as before.

// Leader says whether this replica leads; *leader.Elector implements it.
type Leader interface {
	Current() (leader.Term, bool)
}

var errNotLeader = errors.New("status: this replica does not hold the signing lease")

// leading reports whether this replica signs CRLs now. On the first call of a new term it
// marks every CRL dirty, so a new leader signs fresh CRLs at once (its predecessor may have
// died between a revocation and the CRL that lists it).
func (s *Service) leading() bool {
	if s.c.Leader == nil {
		return true
	}
	term, ok := s.c.Leader.Current()
	if !ok {
		return false
	}
	if s.epoch.Swap(term.Epoch) != term.Epoch {
		s.mu.RLock()
		for _, cs := range s.cas {
			cs.crl.dirty.Store(true)
			for i := range cs.parts {
				cs.parts[i].dirty.Store(true)
			}
		}
		s.mu.RUnlock()
		s.kick()
	}
	return true
}

// crlKey names one CRL of a CA in the crls table: the CA's ID for its full CRL,
// "<ca-id>/<partition>" for a partition. CA IDs hold no "/".
func crlKey(cs *caState, cr *crlState) string {
	if cr.part < 0 {
		return cs.c.ID
	}
	return cs.c.ID + "/" + strconv.Itoa(cr.part)
}

// storeCRL stores a CRL this replica signed, fenced by its term; nothing without a Leader.
func (s *Service) storeCRL(ctx context.Context, cs *caState, cr *crlState, doc *crlDoc) error {
	if s.c.Leader == nil {
		return nil
	}
	term, ok := s.c.Leader.Current()
	if !ok {
		return errNotLeader
	}
	return s.c.Store.Update(ctx, func(tx store.Tx) error {
		if err := term.Fence(tx); err != nil {
			return err
		}
		return tx.CRLs().PutCRL(store.StoredCRL{CAID: crlKey(cs, cr), Number: doc.number, ThisUpdate: doc.thisUpdate, NextUpdate: doc.nextUpdate,
			DER: doc.der, Holder: term.Holder, Epoch: term.Epoch})
	})
}

// followCRL loads the CA's stored CRL when it is newer than the one in memory, and returns
// the CRL to serve (nil when the leader has stored none yet).
func (s *Service) followCRL(ctx context.Context, cs *caState, cr *crlState) (*crlDoc, error) {
	cr.followedAt.Store(time.Now().UnixNano())
	var (
		v     store.StoredCRL
		found bool
	)
	err := s.c.Store.View(ctx, func(tx store.Tx) (err error) {
		v, found, err = latestCRL(tx, cs, cr)
		return err
	})
	if err != nil {
		return cr.doc.Load(), fmt.Errorf("status: the stored CRL of %s: %w", cs.c.ID, err)
	}
	if !found {
		return cr.doc.Load(), nil
	}
	return cr.install(v), nil
}

// latestCRL reads cr's stored CRL if it is newer than the one in memory.
func latestCRL(tx store.Tx, cs *caState, cr *crlState) (store.StoredCRL, bool, error) {
	var after int64
	if cur := cr.doc.Load(); cur != nil {
		after = cur.number
	}
	v, err := tx.CRLs().LatestCRL(crlKey(cs, cr), after)
	if errors.Is(err, store.ErrNotFound) {
		return v, false, nil
	}
	return v, err == nil, err
}

// install makes v the CRL cr serves, and returns it.
func (cr *crlState) install(v store.StoredCRL) *crlDoc {
	sum := sha256.Sum256(v.DER)
	doc := &crlDoc{der: v.DER, number: v.Number, thisUpdate: v.ThisUpdate, nextUpdate: v.NextUpdate, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	cr.doc.Store(doc)
	cr.builtAt.Store(time.Now().UnixNano())
	return doc
}

// followCRLs refreshes the CRLs a follower serves: once any of them was last read CRLMinGap
// ago, all of them, in one read transaction. Read one at a time, as they fall due, a follower
// with a few CAs of many partitions ran tens of read transactions a second at rest.
func (s *Service) followCRLs(ctx context.Context, list []*caState) {
	type follow struct {
		cs    *caState
		cr    *crlState
		v     store.StoredCRL
		found bool
	}
	var (
		todo []follow
		due  bool
	)
	for _, cs := range list {
		todo = append(todo, follow{cs: cs, cr: &cs.crl})
		for i := range cs.parts {
			todo = append(todo, follow{cs: cs, cr: &cs.parts[i]})
		}
	}
	for _, f := range todo {
		if time.Since(time.Unix(0, f.cr.followedAt.Load())) >= s.c.CRLMinGap {
			due = true
			break
		}
	}
	if !due {
		return
	}
	now := time.Now().UnixNano()
	for _, f := range todo {
		f.cr.followedAt.Store(now)
	}
	err := s.c.Store.View(ctx, func(tx store.Tx) error {
		for i := range todo {
			var err error
			if todo[i].v, todo[i].found, err = latestCRL(tx, todo[i].cs, todo[i].cr); err != nil {
				return fmt.Errorf("CA %s partition %d: %w", todo[i].cs.c.ID, todo[i].cr.part, err)
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			s.c.Log.Warn("status: reading the stored CRLs", "err", err)
		}
		return
	}
	for _, f := range todo {
		if f.found {
			f.cr.install(f.v)
		}
	}
}

// followerCRL is currentCRL on a follower: the stored CRL, or an error when there is none.
func (s *Service) followerCRL(ctx context.Context, cs *caState, cr *crlState) (*crlDoc, error) {
	if doc := cr.doc.Load(); doc != nil && time.Since(time.Unix(0, cr.followedAt.Load())) < s.c.CRLMinGap {
		return doc, nil
	}
	doc, err := s.followCRL(ctx, cs, cr)
	if doc != nil {
		return doc, nil // a stale read error still leaves the last CRL, valid until its nextUpdate
	}
	if err == nil {
		err = fmt.Errorf("status: the leader has not stored CRL %s yet", crlKey(cs, cr))
	}
	return nil, err
}
