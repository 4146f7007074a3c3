package readcache_test

import (
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/readcache"
	"github.com/hallmark-id/hallmark/internal/store"
)

// BenchmarkESTReads compares, in one run, the reads an EST renewal makes of the rows
// migration 0030 lets the cache keep (environment by ID and by label, renewal policy,
// build-record key history, the device's active waivers), made: from the database in a read
// transaction (db: what the EST path pays without the cache), through ViewCached (a read
// transaction whose reads come from the cache), and through ViewCacheFirst (no transaction).
// The bound is an hour so that the epoch is not re-read inside the loop.
func BenchmarkESTReads(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			st, _ := be.open(b, 1)
			seedEST(b, st[0])
			c := readcache.New(st[0], readcache.Config{Staleness: time.Hour})
			read := func(b *testing.B, view func(fn func(store.Tx) error) error) {
				var v estView
				for b.Loop() {
					if err := view(func(tx store.Tx) (err error) { v, err = readEST(tx); return err }); err != nil {
						b.Fatal(err)
					}
				}
				if !isOld(v) {
					b.Fatalf("read %+v", v)
				}
			}
			b.Run("db", func(b *testing.B) {
				read(b, func(fn func(store.Tx) error) error { return st[0].View(ctx, fn) })
			})
			b.Run("ViewCached", func(b *testing.B) {
				read(b, func(fn func(store.Tx) error) error { return c.ViewCached(ctx, fn) })
			})
			b.Run("ViewCacheFirst", func(b *testing.B) {
				read(b, func(fn func(store.Tx) error) error { return c.ViewCacheFirst(ctx, fn) })
			})
		})
	}
}
