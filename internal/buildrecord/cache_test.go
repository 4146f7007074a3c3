package buildrecord

import (
	"testing"
)

// TestVerifiedCacheKeys: a changed envelope byte, and a key added to, removed from or
// reordered in the history, each name another entry; the same bytes name the same one.
func TestVerifiedCacheKeys(t *testing.T) {
	env := []byte(`{"payloadType":"x","payload":"e30=","signatures":[{"sig":"MEUC"}]}`)
	k1, k2 := []byte{0x30, 1, 2}, []byte{0x30, 3, 4}
	base := CacheKey(env, HistoryDigest([][]byte{k1, k2}))
	if CacheKey(append([]byte(nil), env...), HistoryDigest([][]byte{append([]byte(nil), k1...), k2})) != base {
		t.Fatal("the same envelope and history name two keys")
	}
	changed := append([]byte(nil), env...)
	changed[len(changed)-5] ^= 1
	others := map[string][32]byte{
		"envelope changed":  CacheKey(changed, HistoryDigest([][]byte{k1, k2})),
		"key added":         CacheKey(env, HistoryDigest([][]byte{k1, k2, {0x30}})),
		"key removed":       CacheKey(env, HistoryDigest([][]byte{k1})),
		"keys reordered":    CacheKey(env, HistoryDigest([][]byte{k2, k1})),
		"keys merged":       CacheKey(env, HistoryDigest([][]byte{append(append([]byte(nil), k1...), k2...)})),
		"key into envelope": CacheKey(append(append([]byte(nil), k2...), env...), HistoryDigest([][]byte{k1})),
	}
	for name, k := range others {
		if k == base {
			t.Errorf("%s: same key", name)
		}
	}
}

// TestVerifiedCacheBounds: the cache holds what was added, refuses nothing but an entry over
// the byte bound, and empties itself rather than pass either bound.
func TestVerifiedCacheBounds(t *testing.T) {
	c := NewVerifiedCache(3, 100)
	key := func(i byte) [32]byte { return [32]byte{i} }
	v := &Verified{KeyID: "k"}
	c.Add(key(1), v, 10)
	if got, ok := c.Get(key(1)); !ok || got != v {
		t.Fatalf("Get after Add: %v %v", got, ok)
	}
	if _, ok := c.Get(key(2)); ok {
		t.Fatal("a key never added hits")
	}
	c.Add(key(2), v, 10)
	c.Add(key(3), v, 10)
	c.Add(key(4), v, 10) // over 3 entries: emptied first
	if n := c.Len(); n != 1 {
		t.Errorf("after the entry bound: %d entries, want 1", n)
	}
	c.Add(key(5), v, 95) // over 100 bytes: emptied first
	if _, ok := c.Get(key(4)); ok || c.Len() != 1 {
		t.Errorf("after the byte bound: %d entries", c.Len())
	}
	c.Add(key(6), v, 101) // alone over the bound: not kept
	if _, ok := c.Get(key(6)); ok {
		t.Error("an envelope over the byte bound is kept")
	}
	c.Add(key(7), nil, 1)
	if _, ok := c.Get(key(7)); ok {
		t.Error("a nil result is kept")
	}
	if h, m := c.Stats(); h != 1 || m != 4 {
		t.Errorf("stats: %d hits, %d misses", h, m)
	}
	var none *VerifiedCache
	none.Add(key(1), v, 1)
	if _, ok := none.Get(key(1)); ok || none.Len() != 0 {
		t.Error("a nil cache remembers")
	}
}
