package policy

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// DefaultCacheEntries is how many compiled policies a Cache keeps when not told otherwise
// (config policy.cache_entries).
const DefaultCacheEntries = 256

// MaxCacheEntries bounds a configured cache size.
const MaxCacheEntries = 65536

// Cache keeps compiled policies by key, at most a fixed number, the least recently used
// leaving first. A key is compiled at most once at a time: callers asking for a key being
// compiled wait for that compilation (or for their context), and compiling one key never
// blocks callers of another. Failed compilations are not kept. A Cache is safe for concurrent
// use.
type Cache struct {
	budget uint64
	max    int
	// compile is compileStored; tests hold it back to show that one key's compilation
	// does not block another's.
	compile func(raw []byte, version int, budget uint64) (*Program, error)

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	order   list.List                // most recently used first
}

type cacheEntry struct {
	key  string
	done chan struct{} // closed when prog and err are set
	prog *Program
	err  error
}

// NewCache returns a cache of at most entries programs (0: DefaultCacheEntries), each
// compiled with budget (0: DefaultBudget).
func NewCache(budget uint64, entries int) (*Cache, error) {
	if budget == 0 {
		budget = DefaultBudget
	}
	if entries == 0 {
		entries = DefaultCacheEntries
	}
	if budget < MinBudget || budget > MaxBudget {
		return nil, fmt.Errorf("policy: a cost budget of %s is outside %s to %s", units(budget), units(MinBudget), units(MaxBudget))
	}
	if entries < 1 || entries > MaxCacheEntries {
		return nil, fmt.Errorf("policy: a cache of %d entries is outside 1 to %d", entries, MaxCacheEntries)
	}
	return &Cache{budget: budget, max: entries, compile: compileStored, entries: map[string]*list.Element{}}, nil
}

// Budget is the cost budget of every program the cache compiles.
func (c *Cache) Budget() uint64 { return c.budget }

// Len is the number of programs kept, and being compiled.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Compile validates and compiles a policy document under the cache's budget without keeping
// it, and refuses it when its worst case exceeds the budget (CheckBudget): what setting a
// policy runs.
func (c *Cache) Compile(s *Spec) (*Program, error) {
	p, err := CompileBudget(s, 0, c.budget)
	if err != nil {
		return nil, err
	}
	if err := p.CheckBudget(); err != nil {
		return nil, err
	}
	return p, nil
}

// Program returns the program kept under key, or parses and compiles raw (a stored policy
// document, ParseSpec) as version, keeps it and returns it. A stored policy is not checked
// against the budget again (CheckBudget): its evaluations are bounded by it all the same.
func (c *Cache) Program(ctx context.Context, key string, version int, raw []byte) (*Program, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		c.mu.Unlock()
		select {
		case <-e.done:
			return e.prog, e.err
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for policy %s to compile: %w", key, context.Cause(ctx))
		}
	}
	e := &cacheEntry{key: key, done: make(chan struct{})}
	c.entries[key] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		// An entry still compiling may leave too: its waiters hold it and get its result.
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
	c.mu.Unlock()

	e.prog, e.err = c.compile(raw, version, c.budget)
	close(e.done)
	if e.err != nil {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok && el.Value == e {
			c.order.Remove(el)
			delete(c.entries, key)
		}
		c.mu.Unlock()
	}
	return e.prog, e.err
}

func compileStored(raw []byte, version int, budget uint64) (*Program, error) {
	s, err := ParseSpec(raw)
	if err != nil {
		return nil, err
	}
	return CompileBudget(s, version, budget)
}
