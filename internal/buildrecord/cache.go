package buildrecord

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// VerifiedCache remembers what VerifyKeys returned for an envelope's exact bytes under an
// exact key history, so that a record read again unchanged (a device's renewal after its
// onboarding, both reading its one build record) is not verified again. The key of an entry
// (CacheKey) is a SHA-256 over the history's digest (HistoryDigest: every key, in order) and
// the envelope's bytes:
// a changed byte of the envelope, a new, removed or reordered key is another key, which
// misses and verifies. Only successful verifications are remembered; a refusal is computed
// again each time.
//
// The cache is bounded by entries and by the bytes of the envelopes it was given; when either
// bound would be passed it is emptied (records then verify again). A renewal hits only
// while its record's entry is still there: in a fleet that renews more devices per
// certificate lifetime than the bound holds, most renewals miss and cost what they did
// without it.
//
// A *Verified from Get is shared: callers read it and never change it (nor its Record). A nil
// *VerifiedCache is valid and remembers nothing.
type VerifiedCache struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int
	bytes      int
	m          map[[32]byte]*Verified
	hits, miss atomic.Int64
}

// Default bounds of a VerifiedCache: 16,384 records and 32 MiB of envelopes, whichever comes
// first.
const (
	DefaultCacheEntries = 1 << 14
	DefaultCacheBytes   = 32 << 20
)

// NewVerifiedCache returns an empty cache of at most maxEntries records and maxBytes bytes of
// envelopes (each <= 0 takes its default).
func NewVerifiedCache(maxEntries, maxBytes int) *VerifiedCache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	return &VerifiedCache{maxEntries: maxEntries, maxBytes: maxBytes, m: make(map[[32]byte]*Verified)}
}

// HistoryDigest names a key history: a SHA-256 over its keys' PKIX DER, in the history's
// order, each prefixed by its length, so that no two histories share a digest.
func HistoryDigest(keysDER [][]byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(keysDER)))
	h.Write(n[:])
	for _, k := range keysDER {
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write(k)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// CacheKey names envelope's bytes verified under the key history whose HistoryDigest is
// history.
func CacheKey(envelope []byte, history [32]byte) [32]byte {
	h := sha256.New()
	h.Write(history[:])
	h.Write(envelope)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Get returns what VerifyKeys returned when the envelope and key history of key verified,
// if the cache still holds it.
func (c *VerifiedCache) Get(key [32]byte) (*Verified, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.miss.Add(1)
	}
	return v, ok
}

// Add remembers v, the result of VerifyKeys on the envelope and key history of key; size is
// the envelope's length, counted against the byte bound. Only a successful verification may
// be added.
func (c *VerifiedCache) Add(key [32]byte, v *Verified, size int) {
	if c == nil || v == nil || size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return
	}
	if len(c.m) >= c.maxEntries || c.bytes+size > c.maxBytes {
		clear(c.m)
		c.bytes = 0
	}
	c.m[key] = v
	c.bytes += size
}

// Stats returns the lookups that hit and missed since the cache was made.
func (c *VerifiedCache) Stats() (hits, misses int64) {
	if c == nil {
		return 0, 0
	}
	return c.hits.Load(), c.miss.Load()
}

// Len is how many records the cache holds.
func (c *VerifiedCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
