package reports

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
)

// The summary, the expiring reports and the rotation report's counts and overdue list are a
// few aggregate statements over the whole fleet, and the console's snapshot rounds ask every
// party for them every round. For callers that accept it (ReuseUnchanged: the snapshot
// rounds), a report of a scope is the one computed last when nothing it reads can have changed
// since:
//
//   - no row: the change mark (driftMark: the audit tree's size and the governance and
//     build-records epochs, read first in the report's transaction) is the same, and the report
//     was computed less than driftRecheck ago, as for the drift report (driftmemo.go);
//   - no answer of a time comparison: these reports compare times with now (a certificate's
//     end with now and with now plus a window, an issue time plus max_age with now), so a
//     device changes category as time passes with no row changing. Before a remembered report
//     is reused for the first time, store.Reports.NextTimeChange names the first instant after
//     the one it was computed at where any such comparison, for any device of any scope,
//     can change its answer; the report is reused only before that instant. That read is
//     shared by the reports of a round (timeline): one per round while the mark stands.
//
// What depends on now alone (GeneratedAt, an expiring certificate's remaining time, an overdue
// identity's age) is computed again from the remembered times. The rotation trend and the
// credentials are always read. A round after a change computes these reports as before, plus
// the mark's three reads. Without ReuseUnchanged (the API's /v1/reports/*) nothing is
// remembered or reused.

// timedKey names a remembered report.
type timedKey struct {
	kind   string // "summary", "expiring" or "rotation"
	scope  store.ReportScope
	window time.Duration // the expiring report's
}

// timedEntry is a remembered report with what it was computed under.
type timedEntry struct {
	mark driftMark
	at   time.Time // the report's now
	// checked: next has been read; none: no time comparison changes after at.
	checked, none bool
	next          time.Time
	value         any
}

// maxTimedReports bounds the reports remembered (four per party asking).
const maxTimedReports = 4 * maxDriftScopes

// TimedWork counts what the summary, expiring and rotation reports of a Service did for
// ReuseUnchanged callers, for tests and benchmarks.
type TimedWork struct {
	Reused   int64 // answered from the remembered report
	Computed int64 // computed from the store
	// Timelines counts the NextTimeChange reads.
	Timelines int64
}

// timedCache holds the remembered reports, the last timeline and the counters.
type timedCache struct {
	mu   sync.Mutex
	m    map[timedKey]timedEntry
	line timeline

	reused, computed, timelines atomic.Int64
}

// timeline is a NextTimeChange read: under mark, after from, with windows. For an instant at
// between from and next nothing changes in (from, at], so the next change after at is next:
// it serves every report computed under mark at such an instant with windows among its own.
type timeline struct {
	read    bool
	mark    driftMark
	from    time.Time
	windows []time.Duration
	next    time.Time
	none    bool
}

// roundWindows are the windows a snapshot round asks for (the summary's day, the console's
// expiring reports), read together so that one timeline serves the round.
var roundWindows = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// nextChange returns a bound on the next instant after at where a report read under mark with
// windows may change with the time alone (none: there is none): the last timeline's when it
// serves, else a new one read in tx.
func (c *timedCache) nextChange(tx store.Tx, mark driftMark, at time.Time, windows []time.Duration) (next time.Time, none bool, err error) {
	c.mu.Lock()
	l := c.line
	c.mu.Unlock()
	if l.read && l.mark == mark && !at.Before(l.from) && (l.none || at.Before(l.next)) && covers(l.windows, windows) {
		return l.next, l.none, nil
	}
	ws := append([]time.Duration{}, roundWindows...)
	for _, w := range windows {
		if !covers(ws, []time.Duration{w}) {
			ws = append(ws, w)
		}
	}
	c.timelines.Add(1)
	next, found, err := tx.Reports().NextTimeChange(at, ws)
	if err != nil {
		return next, false, err
	}
	c.mu.Lock()
	c.line = timeline{read: true, mark: mark, from: at, windows: ws, next: next, none: !found}
	c.mu.Unlock()
	return next, !found, nil
}

// covers says whether every one of ws is in have.
func covers(have, ws []time.Duration) bool {
	for _, w := range ws {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func newTimedCache() *timedCache { return &timedCache{m: map[timedKey]timedEntry{}} }

func (c *timedCache) get(k timedKey) (timedEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

func (c *timedCache) put(k timedKey, e timedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= maxTimedReports {
		clear(c.m)
	}
	c.m[k] = e
}

// TimedWork returns what the remembered reports did so far.
func (s *Service) TimedWork() TimedWork {
	return TimedWork{Reused: s.timed.reused.Load(), Computed: s.timed.computed.Load(), Timelines: s.timed.timelines.Load()}
}

// timedReport returns key's report at now in tx, whose change mark (read first in tx) is mark:
// the remembered one passed through refresh (which must copy what it changes) when ctx accepts
// it and nothing can have changed since (see above), else compute's, then remembered. windows
// are the report's windows after now (an expiring report's end), for NextTimeChange.
func timedReport[T any](ctx context.Context, s *Service, tx store.Tx, key timedKey, mark driftMark, now time.Time, windows []time.Duration,
	compute func() (T, error), refresh func(T, time.Time) T) (T, error) {
	if !reusing(ctx) {
		return compute()
	}
	if e, ok := s.timed.get(key); ok && e.mark == mark && !now.Before(e.at) && now.Sub(e.at) < driftRecheck {
		if !e.checked {
			next, none, err := s.timed.nextChange(tx, mark, e.at, windows)
			if err != nil {
				var zero T
				return zero, err
			}
			e.checked, e.none, e.next = true, none, next
			s.timed.put(key, e)
		}
		if e.none || now.Before(e.next) {
			s.timed.reused.Add(1)
			return refresh(e.value.(T), now), nil
		}
	}
	s.timed.computed.Add(1)
	v, err := compute()
	if err != nil {
		return v, err
	}
	s.timed.put(key, timedEntry{mark: mark, at: now, value: refresh(v, now)})
	return v, nil
}
