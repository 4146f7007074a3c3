package auditlog

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

// Disputes is the set of certificates (serial hex) whose rows disagree with the audit log.
// Reconciliations record it in the store (audit_disputes, migration 0024) with an audit event,
// and every replica holds a copy in memory (WatchDisputes reads the store), which the OCSP
// responder asks for every answer: one atomic load and, while the set is empty (the normal
// case), nothing more.
type Disputes struct {
	m   atomic.Pointer[map[string]struct{}]
	gen atomic.Uint64 // moves whenever the set's contents change
}

// Generation moves whenever the set's contents change: the CRL builder rebuilds then, since
// CRLs list disputed certificates on hold.
func (d *Disputes) Generation() uint64 { return d.gen.Load() }

// Disputed reports whether serial's row disagrees with the log at the last reconciliation.
func (d *Disputes) Disputed(serial string) bool {
	m := d.m.Load()
	if m == nil || len(*m) == 0 {
		return false
	}
	_, ok := (*m)[serial]
	return ok
}

// Len is the number of disputed certificates.
func (d *Disputes) Len() int {
	if m := d.m.Load(); m != nil {
		return len(*m)
	}
	return 0
}

func (d *Disputes) set(serials []string) {
	m := make(map[string]struct{}, len(serials))
	for _, s := range serials {
		m[s] = struct{}{}
	}
	if old := d.m.Swap(&m); old == nil || !maps.Equal(*old, m) {
		d.gen.Add(1)
	}
}

// Disputes is the set this replica's OCSP responder reads.
func (s *Service) Disputes() *Disputes { return &s.disputes }

// record stores a reconciliation's disputed certificates: with full they replace the recorded
// ones; otherwise the checked serials are settled (disputed when in bad, cleared when not).
// A full reconciliation's disputed origins (origins, by device ID) replace the recorded ones;
// a partial one compares no origin and leaves them. The store is written, with an
// "audit.reconcile" event, only when a set changes, so a reconciliation that finds nothing
// new leaves the log as it was.
func (s *Service) record(ctx context.Context, a audit.Actor, full bool, checked []string, bad, origins map[string]Disagreement, r Reconciliation) error {
	var next []string
	err := s.st.Update(ctx, func(tx store.Tx) error {
		prev, err := tx.StateRows().Disputes()
		if err != nil {
			return err
		}
		originsAdded, originsCleared, err := originDisputeChanges(tx, full, origins)
		if err != nil {
			return err
		}
		set := map[string]bool{}
		if !full {
			for _, d := range prev {
				set[d.Serial] = true
			}
			for _, k := range checked {
				delete(set, k)
			}
		}
		for k := range bad {
			set[k] = true
		}
		next = slices.Sorted(maps.Keys(set))
		var added, cleared []string
		was := map[string]bool{}
		for _, d := range prev {
			was[d.Serial] = true
			if !set[d.Serial] {
				cleared = append(cleared, d.Serial)
			}
		}
		for _, k := range next {
			if !was[k] {
				added = append(added, k)
			}
		}
		if len(added) == 0 && len(cleared) == 0 && len(originsAdded) == 0 && len(originsCleared) == 0 {
			return nil
		}
		ds := make([]store.Dispute, 0, len(bad))
		for _, k := range slices.Sorted(maps.Keys(bad)) {
			d := bad[k]
			ds = append(ds, store.Dispute{Serial: k, Row: d.Row, Log: d.Log, Seq: d.Seq, FoundAt: r.At})
		}
		if err := tx.StateRows().SetDisputes(full, checked, ds); err != nil {
			return err
		}
		detail := map[string]any{"full": full, "after_seq": r.AfterSeq, "last_seq": r.LastSeq, "certificates": r.Certificates,
			"disputed": len(next), "added": first(added, 100), "cleared": first(cleared, 100)}
		if origins != nil {
			rows := make([]store.OriginDispute, 0, len(origins))
			for _, id := range slices.Sorted(maps.Keys(origins)) {
				d := origins[id]
				rows = append(rows, store.OriginDispute{DeviceID: id, Row: d.Row, Log: d.Log, Seq: d.Seq, FoundAt: r.At})
			}
			if err := tx.StateRows().SetOriginDisputes(rows); err != nil {
				return err
			}
			detail["origins"], detail["origins_disputed"] = r.Origins, len(origins)
			detail["origins_added"], detail["origins_cleared"] = first(originsAdded, 100), first(originsCleared, 100)
		}
		_, err = tx.Audit().Append(audit.Event{At: r.At, PartyID: a.PartyID, PrincipalID: a.PrincipalID, Action: "audit.reconcile", Detail: audit.Detail(detail)})
		return err
	})
	if err != nil {
		return err
	}
	s.disputes.set(next)
	return nil
}

// originDisputeChanges compares a full reconciliation's disputed origins with the recorded ones:
// the devices added and cleared (none when origins is nil, a partial reconciliation).
func originDisputeChanges(tx store.Tx, full bool, origins map[string]Disagreement) (added, cleared []string, err error) {
	if !full || origins == nil {
		return nil, nil, nil
	}
	prev, err := tx.StateRows().OriginDisputes()
	if err != nil {
		return nil, nil, err
	}
	was := map[string]bool{}
	for _, d := range prev {
		was[d.DeviceID] = true
		if _, ok := origins[d.DeviceID]; !ok {
			cleared = append(cleared, d.DeviceID)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(origins)) {
		if !was[id] {
			added = append(added, id)
		}
	}
	return added, cleared, nil
}

func first(s []string, n int) []string {
	if s == nil {
		return []string{}
	}
	return s[:min(n, len(s))]
}

// LoadDisputes reads the recorded disputed certificates into this replica's set.
func (s *Service) LoadDisputes(ctx context.Context) error {
	var ds []store.Dispute
	if err := s.st.View(ctx, func(tx store.Tx) (err error) { ds, err = tx.StateRows().Disputes(); return err }); err != nil {
		return err
	}
	serials := make([]string, len(ds))
	for i, d := range ds {
		serials[i] = d.Serial
	}
	s.disputes.set(serials)
	return nil
}

// WatchDisputes reads the recorded disputed certificates every interval until ctx ends, so a
// reconciliation on another replica reaches this one's OCSP responder within interval.
// Failures are logged and retried at the next tick (the set stays as it was).
func (s *Service) WatchDisputes(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.LoadDisputes(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("audit: reading the disputed certificates", "err", err)
		}
	}
}
