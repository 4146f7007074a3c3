package makers

import (
	"context"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Refresher runs a round of the status watcher (the composition root's, over
// internal/makerstatus) for one maker now, or for every maker when makerID is "".
type Refresher interface {
	Refresh(ctx context.Context, makerID string) (Round, error)
}

// Round is what one round of the status watcher did and found.
type Round struct {
	Started time.Time
	Elapsed time.Duration
	// CRLs and OCSP count fetches (OCSP: answers, cached ones as ok) by outcome.
	CRLs, OCSP map[string]int
	// Devices checked; ByCRL and ByOCSP answered; Unknown without an answer (a gap);
	// Revoked found revoked, of which Recorded were recorded now.
	Devices, ByCRL, ByOCSP, Unknown, Revoked, Recorded int
	// Sources is the state of every source of the round's makers.
	Sources []SourceState
}

// SourceState is one revocation source as this server last fetched it.
type SourceState struct {
	Kind, URL, Issuer string
	Outcome           string // of the last fetch (makerstatus outcomes)
	Err               string
	LastAttempt       time.Time
	LastOK            time.Time
	// HeldNextUpdate is the nextUpdate of the CRL held (zero: none, or an OCSP source).
	HeldNextUpdate time.Time
	// Gap is true when the last fetch failed or no fresh CRL is held: a gap to report.
	Gap bool
}

// Check runs the status watcher for one maker now: its CRLs are fetched, every onboarded
// device of it is checked, and a device the maker revoked is suspended as the watcher would
// (RecordRevocation). The caller must own operational/issue over the maker's operator.
func (s *Service) Check(ctx context.Context, a audit.Actor, id string) (Round, error) {
	if err := s.c.Store.View(ctx, func(tx store.Tx) error {
		m, err := tx.Makers().GetMaker(id)
		if err != nil {
			return err
		}
		if ok, err := canSee(tx, a, m.OperatorID); err != nil {
			return err
		} else if !ok {
			return failure.New(failure.NotFound, "maker %s: not found", id)
		}
		return requireOwner(tx, a, m.OperatorID)
	}); err != nil {
		return Round{}, err
	}
	if s.c.Refresher == nil {
		return Round{}, failure.New(failure.Unavailable, "this server runs no maker status watcher")
	}
	return s.c.Refresher.Refresh(ctx, id)
}
