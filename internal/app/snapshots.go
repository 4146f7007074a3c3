package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/console"
	"github.com/hallmark-id/hallmark/internal/httpapi"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
)

// DefaultSnapshotInterval is the pause between rounds of report snapshots when the
// configuration gives none (reports.snapshot_interval).
const DefaultSnapshotInterval = time.Minute

// snapshotFollowerPoll is how often a replica that does not lead checks whether it does.
const snapshotFollowerPoll = 5 * time.Second

// The console's report snapshots (issue 19, point 5). The overview and the reports pages are
// reports over the whole fleet; on a large fleet one takes seconds, so the leader computes
// them in the background and stores them, and every replica's console shows the latest with
// its time (and can compute live on request). The API's /v1/reports/* stay live.
//
// Scope: the reports service scopes a report by the caller's party alone (an auditor party
// sees everything, any other party what it made, holds or operates; reports.scopeOf), never by
// the principal. So a snapshot is computed per party, as an actor of that party, and the
// console shows a person only their own party's: it shows exactly what the live report would
// have shown that party at the snapshot's time, including the refusals (a report the party
// may not read is stored as the API's problem, not computed). A party whose reports fail for
// another reason keeps its previous snapshot, or none and its pages stay live; the deployment
// scope (a deployment administrator) is not a listed party and has none.

// runReportSnapshots computes a round of snapshots at once and then every interval after the
// previous round ended, on the replica that leads only (a follower checks every
// snapshotFollowerPoll whether it has become the leader), until ctx ends.
func (a *App) runReportSnapshots(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultSnapshotInterval
	}
	for {
		wait := every
		if _, leading := a.Leader.Current(); !leading {
			// A follower looks again soon: when it takes the lease it computes at once rather
			// than an interval later.
			wait = min(every, snapshotFollowerPoll)
		} else {
			start := time.Now()
			if _, err := a.snapshotRound(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("report snapshots: a round failed", "err", err)
			}
			wait = snapshotPause(every, time.Since(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// snapshotDuty bounds the share of time the leader spends computing snapshots: after a round
// that took d, the next starts no sooner than d*(1/snapshotDuty - 1) later. On a large fleet a
// round takes long (64 s at 1,000,000 devices), and a fixed one-minute pause would keep about
// half a core busy with snapshots for good.
const snapshotDuty = 0.2

// snapshotPause is the pause after a round that took took: the configured interval, or longer
// so that rounds take at most snapshotDuty of the time.
func snapshotPause(every, took time.Duration) time.Duration {
	return max(every, time.Duration(float64(took)*(1/snapshotDuty-1)))
}

// snapshotRound stores a fresh snapshot for every party when this replica leads, each write
// fenced by its term; it returns how many it stored.
func (a *App) snapshotRound(ctx context.Context) (int, error) {
	term, ok := a.Leader.Current()
	if !ok {
		return 0, nil
	}
	var parties []string
	err := a.Store.View(ctx, func(tx store.Tx) error {
		// Store.View may run this function again (after a lost connection): start over.
		parties = nil
		ps, err := tx.Parties().ListParties()
		for _, p := range ps {
			parties = append(parties, p.ID)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("listing parties: %w", err)
	}
	// One round context for all the parties: the round's drift reports share one read of the
	// fleet (reports.SnapshotRound), and a report whose inputs have not changed since the last
	// round is that round's (reports.ReuseUnchanged).
	actors := make([]audit.Actor, len(parties))
	for i, id := range parties {
		actors[i] = audit.Actor{PartyID: id}
	}
	rctx := reports.SnapshotRound(ctx, actors)
	// The time and the audit log's size are read once, before any report: every snapshot of
	// the round reflects at least the events up to that size, its drift part included, which
	// may come from the round's first party's read.
	at := time.Now().UTC()
	if a.Now != nil {
		at = a.Now().UTC()
	}
	size, err := a.AuditLog.Size(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the audit log size: %w", err)
	}
	n := 0
	var errs []error
	for _, id := range parties {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err := a.snapshotParty(rctx, term.Fence, id, at, size); err != nil {
			errs = append(errs, fmt.Errorf("party %s: %w", id, err))
			continue
		}
		n++
	}
	a.Log.Debug("report snapshots: round done", "stored", n, "parties", len(parties))
	return n, errors.Join(errs...)
}

// snapshotParty computes and stores one party's snapshot, under its round's context
// (reports.SnapshotRound), stamped with the round's start at and the audit log's size then.
func (a *App) snapshotParty(ctx context.Context, fence func(store.Tx) error, partyID string, at time.Time, size uint64) error {
	v, err := a.API.ReportViews(ctx, audit.Actor{PartyID: partyID})
	if err != nil {
		return fmt.Errorf("computing the reports: %w", err)
	}
	rows, err := snapshotParts(v)
	if err != nil {
		return err
	}
	return a.Store.Update(ctx, func(tx store.Tx) error {
		if err := fence(tx); err != nil {
			return err
		}
		for part, body := range rows {
			err := tx.ReportSnapshots().PutReportSnapshot(store.ReportSnapshot{PartyID: partyID, Part: part, ComputedAt: at, AuditSize: size, Body: body})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// snapshotParts splits the views into the parts the pages read (console.SnapshotOverview
// and one per report), each encoded on its own: the overview reads a few counts and must not
// decode every certificate the expiring report lists. The overview shows only the counts of
// the certificates expiring within 7 days, so its part leaves out their list.
func snapshotParts(v httpapi.ReportViews) (map[string][]byte, error) {
	pick := func(names ...string) map[string]*api.Problem {
		out := map[string]*api.Problem{}
		for _, n := range names {
			if p := v.Problems[n]; p != nil {
				out[n] = p
			}
		}
		return out
	}
	exp7 := v.Expiring7
	exp7.Groups = append([]api.ExpiringGroup(nil), exp7.Groups...)
	for i := range exp7.Groups {
		exp7.Groups[i].Items = nil
	}
	parts := map[string]httpapi.ReportViews{
		console.SnapshotOverview: {Summary: v.Summary, Expiring7: exp7, Gaps: v.Gaps, Problems: pick("summary", "expiring_7d", "gaps")},
		"rotation":               {Rotation: v.Rotation, Problems: pick("rotation")},
		"expiring":               {Expiring30: v.Expiring30, Problems: pick("expiring_30d")},
		"drift":                  {Drift: v.Drift, Problems: pick("drift")},
		"standards":              {Standards: v.Standards, Problems: pick("standards")},
		"gaps":                   {Gaps: v.Gaps, Problems: pick("gaps")},
	}
	out := map[string][]byte{}
	for name, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encoding the snapshot's %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// snapshotReader serves the console the latest stored snapshot of a party.
type snapshotReader struct{ st store.Store }

func (r snapshotReader) LatestSnapshot(ctx context.Context, partyID, part string) (console.Snapshot, bool, error) {
	var row store.ReportSnapshot
	err := r.st.View(ctx, func(tx store.Tx) error {
		var err error
		row, err = tx.ReportSnapshots().LatestReportSnapshot(partyID, part)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return console.Snapshot{}, false, nil
	}
	if err != nil {
		return console.Snapshot{}, false, fmt.Errorf("reading the report snapshot: %w", err)
	}
	var v httpapi.ReportViews
	if err := json.Unmarshal(row.Body, &v); err != nil {
		return console.Snapshot{}, false, fmt.Errorf("decoding the report snapshot %s of %s: %w", part, partyID, err)
	}
	return console.Snapshot{ComputedAt: row.ComputedAt, AuditSize: row.AuditSize, Summary: v.Summary, Expiring7: v.Expiring7,
		Expiring30: v.Expiring30, Gaps: v.Gaps, Rotation: v.Rotation, Drift: v.Drift, Standards: v.Standards, Problems: v.Problems}, true, nil
}
