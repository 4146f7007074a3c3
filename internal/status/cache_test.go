package status

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// put is a test helper that caches a made-up answer of der bytes about serial i of cs.
func (c *ocspCache) putN(cs *caState, sg *signer, i int, st certStatus, certID byte, der int) {
	id := make([]byte, 75) // a SHA-1 CertID is about 75 octets
	id[0] = certID
	c.put(c.gen.Load(), cacheKey{cs, fmt.Sprintf("%032x", i)}, st, testAt, sg, id, make([]byte, der))
}

var testAt = time.Now().Truncate(time.Second)

func (c *ocspCache) has(cs *caState, sg *signer, i int) bool {
	v, _ := c.get(cacheKey{cs, fmt.Sprintf("%032x", i)}, nil, sg, testAt, time.Hour)
	return v.ok
}

// TestCacheAccounting checks entrySize against the heap the runtime reports: the bytes a
// tier counts must not be less than what its entries hold, nor much more.
func TestCacheAccounting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		answers int
		der     int
	}{
		{"one answer each", 20_000, 1, 1500},
		{"SHA-1 and SHA-256 CertIDs", 10_000, 2, 1500},
		{"small answers", 20_000, 1, 300},
		{"just past a doubling", 16_385, 1, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, sg := &caState{}, &signer{}
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			c := newOCSPCache(1 << 40)
			for i := 0; i < tc.n; i++ {
				for a := 0; a < tc.answers; a++ {
					c.putN(cs, sg, i, certStatus{}, byte(a), tc.der)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			heap := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
			counted := c.known.stats().Bytes
			runtime.KeepAlive(c)
			t.Logf("%d entries: heap %d B (%d per entry), counted %d B (%d per entry)", tc.n, heap, heap/int64(tc.n), counted, counted/int64(tc.n))
			if heap > counted || counted > heap*5/4 {
				t.Errorf("counted %d bytes for a heap of %d", counted, heap)
			}
		})
	}
}

// TestCacheTiers: a flood of unknown answers stays within its eighth of the budget and
// evicts no answer about a real certificate; CLOCK spares an entry that was used; a drop,
// and a change of responder, keep stale answers from being served.
func TestCacheTiers(t *testing.T) {
	cs, sg := &caState{}, &signer{}
	c := newOCSPCache(1 << 20)
	good := certStatus{kind: good}
	for i := 0; i < 200; i++ {
		c.putN(cs, sg, i, good, 0, 1500)
	}
	known := c.known.stats()
	if known.Entries != 200 || known.Bytes > known.Limit {
		t.Fatalf("known tier after 200 answers: %+v", known)
	}
	for i := 1000; i < 6000; i++ {
		c.putN(cs, sg, i, certStatus{kind: unknown}, 0, 1500)
	}
	unk := c.unknown.stats()
	if unk.Bytes > unk.Limit || unk.Limit != (1<<20)/8 || unk.Evictions == 0 || unk.Entries == 0 {
		t.Errorf("unknown tier after a flood: %+v", unk)
	}
	if got := c.known.stats(); got != known {
		t.Errorf("the flood of unknown answers changed the known tier: %+v, was %+v", got, known)
	}
	for i := 0; i < 200; i++ {
		if !c.has(cs, sg, i) {
			t.Fatalf("answer %d was evicted by unknown answers", i)
		}
	}

	// CLOCK: fill a tier, use entry 0, then add nearly a tier's worth: 0 had a second chance
	// and stays, every other old entry is gone.
	lru := newOCSPCache(1 << 20)
	k := int(lru.known.budget / entrySize(fmt.Sprintf("%032x", 0), []answer{{certID: string(make([]byte, 75)), der: make([]byte, 1500)}}))
	for i := 0; i < k; i++ {
		lru.putN(cs, sg, i, good, 0, 1500)
	}
	if got := lru.known.stats(); got.Evictions != 0 || got.Entries != k {
		t.Fatalf("filling the tier with %d entries: %+v", k, got)
	}
	lru.has(cs, sg, 0)
	for i := 0; i < k-1; i++ {
		lru.putN(cs, sg, 10_000+i, good, 0, 1500)
	}
	if !lru.has(cs, sg, 0) {
		t.Error("CLOCK evicted the entry that was used")
	}
	for i := 1; i < k; i++ {
		if lru.has(cs, sg, i) {
			t.Errorf("CLOCK kept unused entry %d of %d", i, k)
		}
	}
	if got := lru.known.stats(); got.Bytes > got.Limit {
		t.Errorf("known tier over its limit: %+v", got)
	}

	// A drop removes the answer, and an answer computed before the drop is not stored.
	gen := c.gen.Load()
	key := cacheKey{cs, fmt.Sprintf("%032x", 0)}
	c.drop(cs, key.serial)
	c.put(gen, key, good, testAt, sg, []byte{1}, []byte{2})
	if c.has(cs, sg, 0) {
		t.Error("an answer computed before a drop was cached")
	}
	// Answers by a previous responder are not served.
	if c.has(cs, &signer{}, 2) == c.has(cs, sg, 2) {
		t.Error("an answer signed by another responder was served")
	}
	// An answer larger than the tier is not cached; dropping most entries shrinks the ring.
	c.putN(cs, sg, 99_999, good, 0, 1<<20)
	if c.has(cs, sg, 99_999) {
		t.Error("an answer larger than the tier was cached")
	}
	var all []string
	for k := range c.known.m {
		all = append(all, k.serial)
	}
	c.drop(cs, all[1:]...)
	c.putN(cs, sg, 123_456, good, 0, 100)
	if n := len(c.known.ring); n > 2*len(c.known.m)+1024 {
		t.Errorf("ring of %d slots for %d entries", n, len(c.known.m))
	}
}
