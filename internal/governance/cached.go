package governance

import (
	"context"

	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// CachedReads is implemented by a store that keeps the reads authentication and authorization
// repeat on every request (internal/readcache wraps the server's store with it). Its reads may
// lag a change made through another replica by at most Staleness; a change made through this
// store shows at once.
type CachedReads interface {
	// CachedToken is Parties().TokenByHash, with no transaction when the token is cached.
	CachedToken(ctx context.Context, hash []byte) (party.Principal, party.Token, error)
	// ViewCached is View, with the ownership, duty, party, catalog, CA and signing-key reads
	// served from the cache where it holds them.
	ViewCached(ctx context.Context, fn func(store.Tx) error) error
}

// ViewCached runs fn in a read transaction of st, through st's cache when st has one
// (CachedReads), otherwise as st.View. Use it for reads that decide who may act, where a
// change made through another replica may take Staleness to show.
func ViewCached(ctx context.Context, st store.Store, fn func(store.Tx) error) error {
	if c, ok := st.(CachedReads); ok {
		return c.ViewCached(ctx, fn)
	}
	return st.View(ctx, fn)
}

// CacheFirstReads is implemented by a store whose cache can answer a read-only function with
// no transaction at all when it holds every row the function reads (readcache.Cache).
type CacheFirstReads interface {
	// ViewCacheFirst is ViewCached, but fn first runs against the cache alone; only when it
	// reads something the cache does not hold (the read is refused with an error, whatever fn
	// makes of it) does it run again in a read transaction. fn may run twice, so it must only
	// read and set its own variables. A panic in fn propagates; it is never taken for a
	// refused read.
	ViewCacheFirst(ctx context.Context, fn func(store.Tx) error) error
}

// ViewCacheFirst is ViewCached through st's ViewCacheFirst when st has one (CacheFirstReads):
// a request whose reads are all cached opens no transaction. fn may run twice (it must only
// read and set its own variables), and its reads are as fresh as ViewCached's. An error fn
// returns is the run's that stands (a refused cache-only run's error is never returned); a
// panic in fn propagates, as it would from View.
func ViewCacheFirst(ctx context.Context, st store.Store, fn func(store.Tx) error) error {
	if c, ok := st.(CacheFirstReads); ok {
		return c.ViewCacheFirst(ctx, fn)
	}
	return ViewCached(ctx, st, fn)
}

// WriterReads is implemented by a store whose cache can serve the reads of a read-only
// function run on the writer's connection (readcache.Cache.ReadOnWriter).
type WriterReads interface {
	ReadOnWriter(ctx context.Context, fn func(store.Tx) error) error
}

// ReadOnWriter runs fn, which must only read, in a write transaction of st: through st's
// cache when it has one (WriterReads), so the environment, policy, waiver, key-history,
// catalog and governance reads come from it (up to Staleness old as of another replica's
// change), otherwise as st.Update.
func ReadOnWriter(ctx context.Context, st store.Store, fn func(store.Tx) error) error {
	if c, ok := st.(WriterReads); ok {
		return c.ReadOnWriter(ctx, fn)
	}
	return st.Update(ctx, fn)
}
