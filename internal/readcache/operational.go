package readcache

import (
	"slices"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/waiver"
)

// The reads EST enrollment and renewal make on every request, of rows that change rarely and
// are shared by every device of an environment or a manufacturer: the environment (by ID or
// EST label), its latest policy of a kind, a build-record key history, and the waivers
// active at a time. Migration 0030 moves the governance epoch with every change to their
// tables (environments, est_labels, policies, waivers, signing_keys, retired_signing_keys).

type policyKey struct {
	env  string
	kind environment.PolicyKind
}

// waiverSnapshotMax is the most waivers one snapshot keeps (less when MaxEntries is smaller):
// the snapshot read asks for that many and, when it gets them all, takes the list as possibly
// cut short and keeps only the note that there were too many.
const waiverSnapshotMax = 512

// waiverSnapshot is every waiver active at `at` (not_after after it), newest first, as
// Waivers().ListWaivers(WaiverFilter{ActiveAt: &at}) returns them; or, when complete is false,
// the note that there were too many to keep (every ListWaivers then reads through).
type waiverSnapshot struct {
	at       int64 // microseconds since the epoch, the store's precision
	all      []waiver.Waiver
	complete bool
}

// covers reports whether the snapshot answers a query of waivers active at at (µs): a waiver
// active then is active at s.at too, so it is in the snapshot.
func (s *waiverSnapshot) covers(at int64) bool { return s.complete && at >= s.at }

// selectFor answers f (with ActiveAt at, µs) from the snapshot as the store would: the same
// order, the same filters, the same limit.
func (s *waiverSnapshot) selectFor(f store.WaiverFilter, at int64) []waiver.Waiver {
	limit := f.Limit
	if limit <= 0 {
		limit = len(s.all)
	}
	var out []waiver.Waiver // nil when none, as the store's
	for _, w := range s.all {
		if len(out) == limit {
			break
		}
		if (f.Party == "" || w.PartyID == f.Party) && (f.DeviceID == "" || w.DeviceID == f.DeviceID) && w.NotAfter.UnixMicro() > at {
			out = append(out, w)
		}
	}
	return out
}

func (t cachedTx) Environments() store.Environments {
	return cachedEnvironments{t.Tx.Environments(), t}
}
func (t cachedTx) KeyHistory() store.KeyHistory { return cachedKeyHistory{t.Tx.KeyHistory(), t} }
func (t cachedTx) Waivers() store.Waivers       { return cachedWaivers{t.Tx.Waivers(), t} }

// cloneEnv returns e with a Services of its own, so that a caller cannot change the cache.
func cloneEnv(e environment.Environment) environment.Environment {
	e.Services = slices.Clone(e.Services)
	return e
}

type cachedEnvironments struct {
	store.Environments
	t cachedTx
}

// GetEnvironment keeps an environment found; an unknown ID is read every time.
func (e cachedEnvironments) GetEnvironment(id string) (environment.Environment, error) {
	c := e.t.c
	if v, ok := lookup(c, func() map[string]environment.Environment { return c.envs }, id); ok {
		return cloneEnv(v), nil
	}
	if e.t.miss() {
		return environment.Environment{}, errNotCached
	}
	v, err := e.Environments.GetEnvironment(id)
	if err == nil {
		kept := cloneEnv(v)
		c.put(e.t.gen, func() { c.envs[id] = kept })
	}
	return v, err
}

// EnvironmentByLabel keeps a label resolved; an unknown label is read every time (labels come
// from request paths).
func (e cachedEnvironments) EnvironmentByLabel(label string) (environment.Environment, error) {
	c := e.t.c
	if v, ok := lookup(c, func() map[string]environment.Environment { return c.labels }, label); ok {
		return cloneEnv(v), nil
	}
	if e.t.miss() {
		return environment.Environment{}, errNotCached
	}
	v, err := e.Environments.EnvironmentByLabel(label)
	if err == nil {
		kept := cloneEnv(v)
		c.put(e.t.gen, func() { c.labels[label] = kept })
	}
	return v, err
}

// LatestPolicy keeps a policy found; an environment with none of that kind is read every time.
func (e cachedEnvironments) LatestPolicy(envID string, kind environment.PolicyKind) (environment.PolicyVersion, error) {
	c := e.t.c
	k := policyKey{envID, kind}
	if v, ok := lookup(c, func() map[policyKey]environment.PolicyVersion { return c.policies }, k); ok {
		v.Spec = slices.Clone(v.Spec)
		return v, nil
	}
	if e.t.miss() {
		return environment.PolicyVersion{}, errNotCached
	}
	v, err := e.Environments.LatestPolicy(envID, kind)
	if err == nil {
		kept := v
		kept.Spec = slices.Clone(v.Spec)
		c.put(e.t.gen, func() { c.policies[k] = kept })
	}
	return v, err
}

type cachedKeyHistory struct {
	store.KeyHistory
	t cachedTx
}

// SigningKeys keeps a key history that has keys; an empty one is read every time. The caller
// gets a slice of its own (the keys' DER is shared: nothing writes to it).
func (h cachedKeyHistory) SigningKeys(partyID, purpose string) ([]ca.SigningKey, error) {
	c := h.t.c
	k := [2]string{partyID, purpose}
	if v, ok := lookup(c, func() map[[2]string][]ca.SigningKey { return c.history }, k); ok {
		return slices.Clone(v), nil
	}
	if h.t.miss() {
		return nil, errNotCached
	}
	v, err := h.KeyHistory.SigningKeys(partyID, purpose)
	if err == nil && len(v) > 0 {
		kept := slices.Clone(v)
		c.put(h.t.gen, func() { c.history[k] = kept })
	}
	return v, err
}

type cachedWaivers struct {
	store.Waivers
	t cachedTx
}

// ListWaivers answers a query with an ActiveAt from a snapshot of every waiver active at a
// time no later than it, read once per generation: a renewal asks for one device's waivers,
// and keeping them per device would fill the cache with one entry per renewing device, nearly
// all empty. A waiver expires by itself, with no write, so the snapshot cannot be a list of
// waivers active "now"; it is the waivers active at its time, filtered again at each query's.
// A query without an ActiveAt, or earlier than the snapshot, reads through; so does every
// query when more than waiverSnapshotMax waivers are active (the snapshot keeps none).
func (w cachedWaivers) ListWaivers(f store.WaiverFilter) ([]waiver.Waiver, error) {
	// The snapshot answers the filter fields selectFor knows; a filter with any other field
	// set (one added to store.WaiverFilter later) reads through rather than be answered wrong.
	known := store.WaiverFilter{Party: f.Party, DeviceID: f.DeviceID, ActiveAt: f.ActiveAt, Limit: f.Limit}
	if f.ActiveAt == nil || known != f {
		if w.t.miss() {
			return nil, errNotCached
		}
		return w.Waivers.ListWaivers(f)
	}
	c := w.t.c
	at := f.ActiveAt.UnixMicro()
	c.mu.Lock()
	snap := c.waivers
	c.mu.Unlock()
	if snap != nil && snap.covers(at) {
		return snap.selectFor(f, at), nil
	}
	if w.t.miss() {
		return nil, errNotCached
	}
	if snap != nil && !snap.complete {
		return w.Waivers.ListWaivers(f)
	}
	most := min(waiverSnapshotMax, c.max)
	all, err := w.Waivers.ListWaivers(store.WaiverFilter{ActiveAt: f.ActiveAt, Limit: most})
	if err != nil {
		return nil, err
	}
	snap = &waiverSnapshot{at: at, complete: len(all) < most}
	if snap.complete {
		snap.all = all
	}
	c.putN(w.t.gen, max(1, len(snap.all)), func() {
		// Keep the snapshot that covers more: the earlier one, or the note of too many.
		if cur := c.waivers; cur == nil || (cur.complete && (!snap.complete || snap.at < cur.at)) {
			c.waivers = snap
		}
	})
	if !snap.complete {
		return w.Waivers.ListWaivers(f)
	}
	return snap.selectFor(f, at), nil
}
