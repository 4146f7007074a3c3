package reports

import (
	"context"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
)

// A snapshot round (internal/app/snapshots.go) asks every party for its drift report, and the
// standards mapping asks again for the whole fleet's. Under a changing fleet the change mark
// moves between those asks, so each read the rows again: the auditor's report, its standards
// mapping and every operator's were three or more reads of the fleet a round (9.6% of the
// server's CPU under the issue 21 load, and the read, not the decode, was all of it).
//
// A round context (SnapshotRound) makes them one: the first drift report the round asks for
// reads every device once, in one transaction, and adds each device's findings to the report
// of every scope of the round that holds it (the deployment's and each party's operational
// scope); the round's later asks take their scope's report from that read. A device's
// findings do not depend on who asks (device() reads only its row, its keys and its
// environment), so each report is the one its scope's own read would have made of the same
// rows. What the reports gain is one read; what they give up is being read at their own ask:
// every drift report of a round is of the state at the round's first ask, and says so in its
// GeneratedAt.

type roundKey struct{}

// driftRound is one snapshot round's shared drift read.
type driftRound struct {
	actors []audit.Actor

	mu      sync.Mutex
	read    bool                              // the shared read ran (or was found not to apply)
	reports map[store.ReportScope]DriftReport // by normalized scope
	trends  map[TrendOptions]roundTrend
}

// SnapshotRound returns a context for one round of report snapshots asked for by actors (one
// per party, as the round asks): ReuseUnchanged, and the round's drift reports share one read
// of the fleet (see above). Make a new one for every round: a round's reports are of the
// state at its first ask, and a context kept across rounds would keep answering with them.
func SnapshotRound(ctx context.Context, actors []audit.Actor) context.Context {
	r := &driftRound{actors: append([]audit.Actor(nil), actors...), reports: map[store.ReportScope]DriftReport{}, trends: map[TrendOptions]roundTrend{}}
	return context.WithValue(ReuseUnchanged(ctx), roundKey{}, r)
}

func roundOf(ctx context.Context) *driftRound {
	r, _ := ctx.Value(roundKey{}).(*driftRound)
	return r
}

// normalScope is sc with what the store ignores cleared: an auditor's scope is the whole
// fleet whoever asks (scopeSQL), so the deployment's report is one, not one per auditor.
func normalScope(sc store.ReportScope) store.ReportScope {
	switch {
	case sc.All:
		return store.ReportScope{All: true}
	default:
		return sc
	}
}

// report returns the round's report of sc, when its shared read made one (never for no
// round: r nil).
func (r *driftRound) report(sc store.ReportScope) (DriftReport, bool) {
	if r == nil {
		return DriftReport{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rep, ok := r.reports[sc]
	if !ok {
		return DriftReport{}, false
	}
	return rep.clone(), true
}

// share runs the round's shared read in tx when it has not run and sc is one of the round's
// scopes, and reports whether it ran; the reports it made are then the round's (report) and each
// scope's last (driftCache.keep, under mark). The read is of every device (the deployment's
// scope); each device's findings go to each of the round's scopes that holds it (holds).
func (s *Service) share(tx store.Tx, r *driftRound, sc store.ReportScope, mark driftMark, at time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read {
		return false, nil
	}
	scopes := map[store.ReportScope]*scopeFilter{{All: true}: {}}
	for _, a := range r.actors {
		asked, err := opScopeOf(tx, a)
		if err != nil {
			return false, err
		}
		asked = normalScope(asked)
		if _, ok := scopes[asked]; ok {
			continue
		}
		f, ok, err := filterOf(tx, asked)
		if err != nil {
			return false, err
		}
		if ok {
			scopes[asked] = f
		}
	}
	if _, ok := scopes[sc]; !ok {
		return false, nil // not a scope of the round's parties: its own read
	}
	out := map[store.ReportScope]*DriftReport{}
	for k := range scopes {
		out[k] = &DriftReport{GeneratedAt: at, Items: []Drift{}, Policy: []PolicyDrift{}, PolicyChecked: true}
	}
	st := s.newDriftState(tx)
	err := st.pass(store.ReportScope{All: true}, func(ad *store.Admission, f *deviceDrift) {
		for k, filter := range scopes {
			if filter.holds(k, ad) {
				out[k].add(f)
			}
		}
	})
	if err != nil {
		return false, err
	}
	r.read = true
	s.drift.read.Add(1)
	for k, rep := range out {
		r.reports[k] = *rep
		s.drift.keep(k, mark, at, *rep)
	}
	return true, nil
}

// scopeFilter decides in Go what scopeSQL decides in the store: whether a device read for the
// whole fleet is in a scope. envs are the environments an operational scope's party operates.
// TestSnapshotRoundSharedReads holds the two to the same answer, scope by scope.
type scopeFilter struct {
	envs map[string]bool
}

func (f *scopeFilter) holds(sc store.ReportScope, ad *store.Admission) bool {
	d := &ad.Device
	return f.holdsDevice(sc, d.ManufacturerID, d.CustodianID, d.EnvironmentID)
}

// holdsDevice: whether a device of this maker, custodian and current environment is in sc.
func (f *scopeFilter) holdsDevice(sc store.ReportScope, manufacturer, custodian, env string) bool {
	switch {
	case sc.All:
		return true
	case sc.Operational:
		return custodian == sc.PartyID && env != "" && f.envs[env]
	default:
		return manufacturer == sc.PartyID || custodian == sc.PartyID
	}
}

// filterOf is the filter of scope sc, read in tx; false for a scope that cannot be filtered
// in Go (a party's with no party), which reads on its own.
func filterOf(tx store.Tx, sc store.ReportScope) (*scopeFilter, bool, error) {
	if sc.All {
		return &scopeFilter{}, true, nil
	}
	if sc.PartyID == "" {
		return nil, false, nil
	}
	f := &scopeFilter{}
	if sc.Operational {
		envs, err := ownEnvironments(tx, sc)
		if err != nil {
			return nil, false, err
		}
		f.envs = envs
	}
	return f, true, nil
}

// roundTrend is a round's read of the rotation trend of the whole fleet split by holder, at
// the instants of the options it was read for.
type roundTrend struct {
	at     []time.Time
	counts []store.TrendCount
}

// trend is the rotation trend of scope sc for options o in a snapshot round: the round's one
// read of the whole fleet's trend by holder for o (made at the first ask, at that ask's
// instants at), summed over the holders sc holds. It returns the instants it is of, which
// are the first ask's. A scope the round cannot filter reads on its own, at at.
func (r *driftRound) trend(tx store.Tx, sc store.ReportScope, o TrendOptions, at []time.Time) ([]TrendPoint, error) {
	f, ok, err := filterOf(tx, normalScope(sc))
	if err != nil {
		return nil, err
	}
	if !ok {
		return trendOf(tx, sc, at)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rt, ok := r.trends[o]
	if !ok {
		counts, err := tx.Reports().RotationTrendByHolder(at)
		if err != nil {
			return nil, err
		}
		rt = roundTrend{at: append([]time.Time(nil), at...), counts: counts}
		r.trends[o] = rt
	}
	var mine []store.TrendCount // by instant and environment, as RotationTrend orders them
	for _, c := range rt.counts {
		if h := c.Holder; h == nil || !f.holdsDevice(sc, h.ManufacturerID, h.CustodianID, h.EnvironmentID) {
			continue
		}
		if n := len(mine); n > 0 && mine[n-1].At.Equal(c.At) && mine[n-1].EnvironmentID == c.EnvironmentID {
			mine[n-1].Active += c.Active
			mine[n-1].Compliant += c.Compliant
			continue
		}
		mine = append(mine, store.TrendCount{At: c.At, EnvironmentID: c.EnvironmentID, Active: c.Active, Compliant: c.Compliant})
	}
	return trendPoints(mine, rt.at), nil
}
