package status

import (
	"sync"
	"sync/atomic"
	"time"
)

// The OCSP answer cache. Anyone may ask about any serial, so what it holds is chosen by
// unauthenticated input; it is bounded in bytes, all CAs together, by one budget.
//
// Invariants:
//   - Two tiers share the budget. Answers about certificates a CA issued (good or revoked)
//     may take seven eighths of it, "unknown" answers (a serial never issued, one of another
//     CA, a reservation) the last eighth. A flood of random serials churns the unknown tier
//     and never evicts the answer of a real certificate.
//   - A tier never holds more than its share, as counted by entrySize, which includes the
//     heap the entry holds besides its answers (TestCacheAccounting checks the estimate
//     against the runtime's figures).
//   - Eviction is CLOCK (second chance): a hit sets the entry's reference bit under the read
//     lock; to make room, the hand clears set bits and evicts the first entry whose bit was
//     clear. A hit never takes the write lock.
//   - gen counts invalidations. put stores nothing when gen moved since the caller read it
//     before looking the status up: the answer may predate the change.
//   - An entry is served only while it is fresh (younger than the refresh age) and was
//     signed by the CA's current responder; stale entries are replaced when asked for again,
//     or evicted.

// cacheKey names the cached status of one serial of one CA.
type cacheKey struct {
	cs     *caState
	serial string // hex, as ca.SerialHex
}

// answer is a signed OCSPResponse for one exact CertID.
type answer struct {
	certID string // a copy: the request's bytes are not retained
	der    []byte
}

// maxAnswers bounds the answers kept per serial: a CertID differs only in its hash
// algorithm (4 are accepted) and whether its parameters are NULL or absent.
const maxAnswers = 8

// entry is the cached status of one serial and the answers signed for it, one per CertID.
type entry struct {
	key     cacheKey
	st      certStatus
	at      time.Time // thisUpdate of the answers
	sg      *signer   // the responder that signed them
	answers []answer  // guarded by the tier's mu
	size    int64     // entrySize, guarded by the tier's mu
	slot    int       // index in the tier's ring
	ref     atomic.Bool
}

// Per-entry heap besides the bytes of serial, CertIDs and answers, rounded up: the entry
// (144 B), its map slot (about 40 to 80 B with the map's spare room), its ring and free-list
// slots, the answers array (48 B per answer) and the allocator's size classes. Measured by
// TestCacheAccounting, which fails if the count falls below the heap or exceeds it by a
// quarter.
const (
	entryOverhead  = 176 + 96 + 16 + 48
	answerOverhead = 48 + 32
)

func entrySize(serial string, answers []answer) int64 {
	n := int64(entryOverhead + len(serial))
	for _, a := range answers {
		n += answerOverhead + int64(len(a.certID)+len(a.der))
	}
	return n
}

// tier is one CLOCK cache with its byte budget.
type tier struct {
	name    string
	mu      sync.RWMutex
	budget  int64
	bytes   int64
	m       map[cacheKey]*entry
	ring    []*entry // every entry at its slot; nil slots are free
	free    []int    // free slots of ring
	hand    int
	evicted atomic.Int64
}

// ocspCache is the two tiers and the invalidation counter.
type ocspCache struct {
	gen     atomic.Uint64
	known   tier
	unknown tier
}

func newOCSPCache(budget int64) *ocspCache {
	c := &ocspCache{}
	c.unknown = tier{name: "unknown", budget: budget / 8, m: map[cacheKey]*entry{}}
	c.known = tier{name: "known", budget: budget - budget/8, m: map[cacheKey]*entry{}}
	return c
}

// view is what get found for a serial.
type view struct {
	ok bool // a fresh entry by the current responder exists
	st certStatus
	at time.Time
}

// get returns the fresh status of k signed by sg, and the answer for certID when one is
// cached, marking the entry used.
func (c *ocspCache) get(k cacheKey, certID []byte, sg *signer, now time.Time, refresh time.Duration) (view, []byte) {
	for _, t := range []*tier{&c.known, &c.unknown} {
		t.mu.RLock()
		e := t.m[k]
		if e == nil || e.sg != sg || now.Sub(e.at) >= refresh {
			t.mu.RUnlock()
			continue
		}
		if !e.ref.Load() { // a store on every hit would bounce the entry's cache line between cores
			e.ref.Store(true)
		}
		v := view{ok: true, st: e.st, at: e.at}
		var der []byte
		for _, a := range e.answers {
			if a.certID == string(certID) {
				der = a.der
				break
			}
		}
		t.mu.RUnlock()
		return v, der
	}
	return view{}, nil
}

// put caches der, the answer for certID about k (status st as of at, signed by sg), unless
// an invalidation happened since gen was read.
func (c *ocspCache) put(gen uint64, k cacheKey, st certStatus, at time.Time, sg *signer, certID []byte, der []byte) {
	t := &c.known
	if st.kind == unknown {
		t = &c.unknown
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	a := answer{certID: string(certID), der: der}
	e := t.m[k]
	if e != nil && e.sg == sg && e.at.Equal(at) && e.st == st {
		if len(e.answers) >= maxAnswers {
			return
		}
		for _, have := range e.answers {
			if have.certID == a.certID {
				return
			}
		}
		grown := entrySize(k.serial, append(e.answers[:len(e.answers):len(e.answers)], a))
		if !t.makeRoom(grown-e.size, e) {
			return
		}
		e.answers = append(e.answers, a)
		t.bytes += grown - e.size
		e.size = grown
		return
	}
	if e != nil {
		t.remove(e)
	}
	e = &entry{key: k, st: st, at: at, sg: sg, answers: []answer{a}}
	e.size = entrySize(k.serial, e.answers)
	if e.size > t.budget {
		return
	}
	t.makeRoom(e.size, nil)
	t.m[k] = e
	t.bytes += e.size
	if n := len(t.free); n > 0 {
		e.slot, t.free = t.free[n-1], t.free[:n-1]
		t.ring[e.slot] = e
	} else {
		e.slot = len(t.ring)
		t.ring = append(t.ring, e)
	}
	if len(t.free) > 1024 && len(t.free) > len(t.m) {
		t.compact()
	}
}

// makeRoom evicts entries until n more bytes fit in the budget, and reports whether they
// do with keep (when set) still cached. Call with mu held.
func (t *tier) makeRoom(n int64, keep *entry) bool {
	for t.bytes+n > t.budget {
		if len(t.m) == 0 || keep != nil && len(t.m) == 1 {
			return false
		}
		if t.evictOne() == keep && keep != nil {
			return false
		}
	}
	return true
}

// evictOne advances the hand to the first entry whose reference bit is clear, clearing the
// bits it passes, and evicts it. Call with mu held and the tier not empty: after one turn
// of the ring every bit is clear.
func (t *tier) evictOne() *entry {
	for {
		if t.hand >= len(t.ring) {
			t.hand = 0
		}
		e := t.ring[t.hand]
		t.hand++
		if e == nil || e.ref.Swap(false) {
			continue
		}
		t.remove(e)
		t.evicted.Add(1)
		return e
	}
}

func (t *tier) remove(e *entry) {
	delete(t.m, e.key)
	t.ring[e.slot] = nil
	t.free = append(t.free, e.slot)
	t.bytes -= e.size
}

// compact rebuilds the ring without its free slots, so that the ring stays within twice
// the entries plus 1,024 slots whatever was dropped.
func (t *tier) compact() {
	ring := make([]*entry, 0, len(t.m))
	for _, e := range t.ring {
		if e != nil {
			e.slot = len(ring)
			ring = append(ring, e)
		}
	}
	t.ring, t.free, t.hand = ring, nil, 0
}

// drop removes the cached status of the given serials of cs from both tiers and counts an
// invalidation, under both locks so that no put of an older answer slips in between.
func (c *ocspCache) drop(cs *caState, serials ...string) {
	c.known.mu.Lock()
	c.unknown.mu.Lock()
	for _, s := range serials {
		k := cacheKey{cs, s}
		for _, t := range []*tier{&c.known, &c.unknown} {
			if e := t.m[k]; e != nil {
				t.remove(e)
			}
		}
	}
	c.gen.Add(1)
	c.unknown.mu.Unlock()
	c.known.mu.Unlock()
}

// CacheStats describes one tier of the OCSP answer cache.
type CacheStats struct {
	Tier      string // "known": answers about certificates a CA issued; "unknown": the rest
	Bytes     int64  // held now, as estimated by entrySize
	Limit     int64  // the tier's share of the budget
	Entries   int    // serials cached
	Evictions int64  // entries evicted to make room, since the start
}

func (t *tier) stats() CacheStats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return CacheStats{Tier: t.name, Bytes: t.bytes, Limit: t.budget, Entries: len(t.m), Evictions: t.evicted.Load()}
}
