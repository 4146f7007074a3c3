// Package leader elects, among the `hallmark serve` replicas sharing one store, the one that
// signs what must have a single author: CRLs and interval audit checkpoints.
//
// Leadership is a lease row in the store (store.Leases): the leader renews it every
// RenewEvery; when it stops renewing (it died, hung, or lost the database) the lease expires
// after TTL and the first replica to try takes it, with the next epoch. Expiry is measured on
// the store's clock, never a replica's.
//
// Invariants:
//   - A replica believes it leads only until start + TTL, where start is when it sent its
//     last successful renewal, which is never later than the lease's expiry in the store;
//     after that it stops signing even if it cannot reach the store.
//   - Whatever a leader writes as the leader is fenced: the writing transaction checks the
//     term (holder and epoch) with Term.Fence and fails once anyone else has taken the lease,
//     so a deposed leader that has not noticed yet cannot overwrite its successor.
package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// DefaultName is the lease that CRL and checkpoint signing share.
const DefaultName = "signer"

// Config holds the collaborators and timings; zero values take the defaults shown.
type Config struct {
	Store store.Store
	// Name is the lease name (default DefaultName).
	Name string
	// Holder identifies this replica; it must be unique among running replicas (default
	// "<hostname>/<pid>/<random>").
	Holder string
	// TTL is how long a lease lasts without renewal (default 15s): the longest a dead
	// leader keeps the lease.
	TTL time.Duration
	// RenewEvery is how often the leader renews and a follower tries to take the lease
	// (default TTL/3).
	RenewEvery time.Duration
	Log        *slog.Logger
}

// Term is one leader's tenure of the lease.
type Term struct {
	Name   string
	Holder string
	Epoch  int64
}

// Fence fails (with a store conflict) unless the term is still current; call it in the
// transaction that stores what the leader signed.
func (t Term) Fence(tx store.Tx) error { return tx.Leases().Check(t.Name, t.Holder, t.Epoch) }

// Elector takes and keeps the lease. It is safe for concurrent use.
type Elector struct {
	c Config

	mu      sync.Mutex
	term    Term
	leading bool
	until   time.Time // local deadline of the current term (monotonic clock)
	stopped bool
	holder  string // the holder seen last (for logs)
}

// New returns an Elector; Run (or Try) makes it act.
func New(c Config) *Elector {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Holder == "" {
		c.Holder = DefaultHolder()
	}
	if c.TTL <= 0 {
		c.TTL = 15 * time.Second
	}
	if c.RenewEvery <= 0 || c.RenewEvery >= c.TTL {
		c.RenewEvery = c.TTL / 3
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Elector{c: c}
}

// DefaultHolder is "<hostname>/<pid>/<6 random hex digits>".
func DefaultHolder() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Holder is this replica's holder ID.
func (e *Elector) Holder() string { return e.c.Holder }

// TTL is the lease's time to live.
func (e *Elector) TTL() time.Duration { return e.c.TTL }

// Current returns the current term when this replica leads now.
func (e *Elector) Current() (Term, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leading && !e.stopped && time.Now().Before(e.until) {
		return e.term, true
	}
	return Term{}, false
}

// Try takes or renews the lease once and reports whether this replica leads. A store error
// is returned and changes nothing: a leader keeps leading until its local deadline.
func (e *Elector) Try(ctx context.Context) (bool, error) {
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	if stopped {
		return false, nil
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, e.c.RenewEvery)
	defer cancel()
	var l store.Lease
	err := e.c.Store.Update(cctx, func(tx store.Tx) (err error) {
		l, err = tx.Leases().Acquire(e.c.Name, e.c.Holder, e.c.TTL)
		return err
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.stopped:
		return false, nil
	case err == nil:
		if !e.leading || e.term.Epoch != l.Epoch {
			e.c.Log.Info("leader: leading", "lease", e.c.Name, "holder", e.c.Holder, "epoch", l.Epoch)
		}
		e.term, e.leading, e.until, e.holder = Term{Name: e.c.Name, Holder: e.c.Holder, Epoch: l.Epoch}, true, start.Add(e.c.TTL), l.Holder
		return true, nil
	case errors.Is(err, store.ErrConflict):
		if e.leading {
			e.c.Log.Warn("leader: lost the lease", "lease", e.c.Name, "holder", e.c.Holder, "epoch", e.term.Epoch, "new_holder", l.Holder, "new_epoch", l.Epoch)
		} else if l.Holder != e.holder {
			e.c.Log.Info("leader: following", "lease", e.c.Name, "leader", l.Holder, "epoch", l.Epoch)
		}
		e.leading, e.holder = false, l.Holder
		return false, nil
	default:
		if e.leading && time.Now().After(e.until) {
			e.c.Log.Warn("leader: the lease ran out while the store was unreachable", "lease", e.c.Name, "epoch", e.term.Epoch)
			e.leading = false
		}
		return false, fmt.Errorf("leader: taking lease %s: %w", e.c.Name, err)
	}
}

// Run tries every RenewEvery until ctx ends or Stop is called.
func (e *Elector) Run(ctx context.Context) {
	t := time.NewTicker(e.c.RenewEvery)
	defer t.Stop()
	for {
		if _, err := e.Try(ctx); err != nil && ctx.Err() == nil {
			e.c.Log.Warn("leader: renewing", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop ends this replica's part in the election: it stops leading and releases the lease
// (within timeout), so that another replica takes over at once instead of after the TTL.
func (e *Elector) Stop(timeout time.Duration) error {
	e.mu.Lock()
	term, leading := e.term, e.leading
	e.stopped, e.leading = true, false
	e.mu.Unlock()
	if !leading {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := e.c.Store.Update(ctx, func(tx store.Tx) error { return tx.Leases().Release(term.Name, term.Holder, term.Epoch) })
	if err == nil {
		e.c.Log.Info("leader: released the lease", "lease", term.Name, "epoch", term.Epoch)
	}
	return err
}
