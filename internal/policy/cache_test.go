package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

func rawSpec(t testing.TB, s *Spec) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestCache(t testing.TB, entries int) *Cache {
	t.Helper()
	c, err := NewCache(0, entries)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCacheBounded: a tenant creating policy versions without end does not grow the cache past
// its size; the most recently used programs stay, the oldest are compiled again when asked.
func TestCacheBounded(t *testing.T) {
	c := newTestCache(t, 8)
	raw := rawSpec(t, DefaultRenewal())
	ctx := context.Background()
	first, err := c.Program(ctx, "env-a/renewal/1", 1, raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := c.Program(ctx, fmt.Sprintf("env-b/renewal/%d", i), i, raw); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 { // env-a stays in use
			if p, _ := c.Program(ctx, "env-a/renewal/1", 1, raw); p != first {
				t.Fatalf("after %d other keys the program in use was compiled again", i)
			}
		}
		if n := c.Len(); n > 8 {
			t.Fatalf("the cache holds %d programs, more than 8", n)
		}
	}
	old, _ := c.Program(ctx, "env-b/renewal/0", 0, raw)
	if old == nil || old.Version() != 0 {
		t.Fatalf("an evicted key did not compile again: %v", old)
	}
	// A document that does not compile is not kept, and says why each time.
	for range 3 {
		if _, err := c.Program(ctx, "env-c/renewal/1", 1, []byte(`{"rules":[]}`)); err == nil {
			t.Fatal("a bad stored policy compiled")
		}
	}
	if n := c.Len(); n > 8 {
		t.Fatalf("failed compilations grew the cache to %d", n)
	}
	for _, bad := range []struct {
		budget  uint64
		entries int
	}{{MinBudget - 1, 1}, {MaxBudget + 1, 1}, {0, -1}, {0, MaxCacheEntries + 1}} {
		if _, err := NewCache(bad.budget, bad.entries); err == nil {
			t.Errorf("NewCache(%d, %d) accepted", bad.budget, bad.entries)
		}
	}
}

// TestCacheCompilesOnceAndAlone: 16 callers of one key share one compilation; while one key
// compiles, another key compiles and returns without waiting for it; a caller whose context
// ends stops waiting.
func TestCacheCompilesOnceAndAlone(t *testing.T) {
	c := newTestCache(t, 0)
	ctx := context.Background()
	slowStarted, release := make(chan struct{}), make(chan struct{})
	compiled := map[string]int{}
	var mu sync.Mutex
	c.compile = func(raw []byte, version int, budget uint64) (*Program, error) {
		mu.Lock()
		compiled[string(raw)]++
		mu.Unlock()
		if version == 1 {
			close(slowStarted)
			select {
			case <-release:
			case <-time.After(10 * time.Second): // never hang the test
			}
		}
		return compileStored(raw, version, budget)
	}
	slowRaw, fastRaw := rawSpec(t, DefaultOnboarding()), rawSpec(t, DefaultRenewal())

	var wg sync.WaitGroup
	got := make([]*Program, 16)
	for i := range got {
		wg.Go(func() {
			p, err := c.Program(ctx, "slow/1", 1, slowRaw)
			if err != nil {
				t.Error(err)
			}
			got[i] = p
		})
	}
	<-slowStarted

	// Another key compiles while slow/1 is held back.
	fast, err := c.Program(ctx, "fast/2", 2, fastRaw)
	if err != nil || fast.Version() != 2 {
		t.Fatalf("fast key: %v, %v", fast, err)
	}
	// A waiter whose context ends returns.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.Program(short, "slow/1", 1, slowRaw); err == nil {
		t.Fatal("a waiter whose context ended kept waiting and got a program")
	}

	close(release)
	wg.Wait()
	for i, p := range got {
		if p == nil || p != got[0] {
			t.Fatalf("caller %d got another program: %p, %p", i, p, got[0])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if compiled[string(slowRaw)] != 1 || compiled[string(fastRaw)] != 1 {
		t.Errorf("compilations per document: %v, want one each", compiled)
	}
}

// TestCacheCompileChecksBudget: what setting a policy runs refuses a policy over the budget.
func TestCacheCompileChecksBudget(t *testing.T) {
	c := newTestCache(t, 0)
	if _, err := c.Compile(hostileSpec()); err == nil {
		t.Fatal("the worst-case policy was accepted")
	}
	if _, err := c.Compile(DefaultOnboarding()); err != nil {
		t.Fatal(err)
	}
}
