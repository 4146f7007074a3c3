package readcache_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/ownership"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/readcache"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var ctx = context.Background()

// replicas opens n stores on one SQLite file: n processes' views of one database.
func replicas(t *testing.T, n int) []store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hallmark.db")
	var out []store.Store
	for range n {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: time.Now(), PartyID: "acme", Action: "test"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

var (
	hash = party.HashToken("secret")
	cell = ownership.Cell{Stage: ownership.Manufacturing, Duty: ownership.Issue, Scope: ownership.Scope{Kind: ownership.Manufacturer, ID: "acme"}, PartyID: "acme"}
	key  = ownership.Key{Stage: cell.Stage, Duty: cell.Duty, Scope: cell.Scope}
)

// seed creates two parties, a principal with a token that hashes to hash, and cell.
func seed(t *testing.T, s store.Store) {
	t.Helper()
	exp := time.Now().Add(time.Hour)
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"acme", "fabrikam"} {
			if err := tx.Parties().CreateParty(party.Party{ID: id, Name: id, Kind: party.Manufacturer, CreatedAt: time.Now()}); err != nil {
				return err
			}
		}
		if err := tx.Parties().CreatePrincipal(party.Principal{ID: "prn1", PartyID: "acme", Name: "line", Kind: party.Service, CreatedAt: time.Now()}); err != nil {
			return err
		}
		if err := tx.Parties().CreateToken(party.Token{ID: "tok1", PrincipalID: "prn1", CreatedAt: time.Now(), ExpiresAt: &exp}, hash[:]); err != nil {
			return err
		}
		return tx.Ownership().SetCell(cell, "x", time.Now())
	})
}

func token(t *testing.T, c *readcache.Cache) party.Token {
	t.Helper()
	_, tok, err := c.CachedToken(ctx, hash[:])
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func owner(t *testing.T, c *readcache.Cache) string {
	t.Helper()
	var o string
	if err := c.ViewCached(ctx, func(tx store.Tx) (err error) { o, _, err = tx.Ownership().Owner(key); return err }); err != nil {
		t.Fatal(err)
	}
	return o
}

func revoke(tx store.Tx) error { return tx.Parties().RevokeToken("tok1", time.Now()) }

func moveCell(tx store.Tx) error {
	c := cell
	c.PartyID = "fabrikam"
	return tx.Ownership().SetCell(c, "x", time.Now())
}

// A change made through the cache shows at its next read, however long the bound.
func TestOwnChangeShowsAtOnce(t *testing.T) {
	st := replicas(t, 1)[0]
	seed(t, st)
	c := readcache.New(st, readcache.Config{Staleness: time.Hour})
	if tok := token(t, c); tok.RevokedAt != nil {
		t.Fatal("revoked before the revocation")
	}
	if o := owner(t, c); o != "acme" {
		t.Fatalf("owner %q", o)
	}
	update(t, c, revoke)
	if tok := token(t, c); tok.RevokedAt == nil {
		t.Error("the revocation made through this cache did not show at the next read")
	}
	update(t, c, moveCell)
	if o := owner(t, c); o != "fabrikam" {
		t.Errorf("the cell moved through this cache still reads %q", o)
	}
}

// A change made through another replica shows once the bound has passed; within it the other
// replica may still answer from its cache (here it does, with a bound of an hour: what it
// cached is what it serves).
func TestOtherReplicaChangeShowsWithinBound(t *testing.T) {
	st := replicas(t, 3)
	seed(t, st[0])
	const bound = 50 * time.Millisecond
	quick := readcache.New(st[0], readcache.Config{Staleness: bound})
	slow := readcache.New(st[1], readcache.Config{Staleness: time.Hour})
	writer := readcache.New(st[2], readcache.Config{})
	for _, c := range []*readcache.Cache{quick, slow} {
		token(t, c)
		owner(t, c)
	}
	update(t, writer, revoke)
	update(t, writer, moveCell)
	time.Sleep(bound)
	if tok := token(t, quick); tok.RevokedAt == nil {
		t.Errorf("revocation by another replica not seen %s after it committed", bound)
	}
	if o := owner(t, quick); o != "fabrikam" {
		t.Errorf("cell moved by another replica reads %q %s after it committed", o, bound)
	}
	if tok := token(t, slow); tok.RevokedAt != nil {
		t.Error("a replica with a bound of an hour read the token again: it caches nothing")
	}
	if o := owner(t, slow); o != "acme" {
		t.Error("a replica with a bound of an hour read the cell again: it caches nothing")
	}
}

// A change made by hand in SQL (no Update of any cache) moves the epoch through the triggers.
func TestChangeBySQLShowsWithinBound(t *testing.T) {
	st := replicas(t, 2)
	seed(t, st[0])
	const bound = 20 * time.Millisecond
	c := readcache.New(st[0], readcache.Config{Staleness: bound})
	token(t, c)
	update(t, st[1], revoke) // the bare store: no cache hears of it
	time.Sleep(bound)
	if tok := token(t, c); tok.RevokedAt == nil {
		t.Errorf("revocation through the bare store not seen %s after it committed", bound)
	}
}

// Recording a use keeps the entries, and the cached token shows the use recorded.
func TestTouchKeepsTheCache(t *testing.T) {
	st := replicas(t, 2)
	seed(t, st[0])
	c := readcache.New(st[0], readcache.Config{Staleness: time.Hour})
	token(t, c)
	at := time.Now().Truncate(time.Microsecond)
	if err := c.TouchToken(ctx, "prn1", "tok1", at); err != nil {
		t.Fatal(err)
	}
	if tok := token(t, c); tok.LastUsedAt == nil || !tok.LastUsedAt.Equal(at) {
		t.Errorf("last use %v, want %v", tok.LastUsedAt, at)
	}
	// A revocation by the bare store stays unseen: the touch did not drop the cache.
	update(t, st[1], revoke)
	if err := c.TouchToken(ctx, "prn1", "tok1", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if tok := token(t, c); tok.RevokedAt != nil {
		t.Error("recording a use dropped the cache")
	}
}

// An unknown token is not remembered: once created (here by another process, which the
// cache does not hear of for an hour), it authenticates at once.
func TestUnknownTokenIsNotCached(t *testing.T) {
	st := replicas(t, 2)
	c := readcache.New(st[0], readcache.Config{Staleness: time.Hour})
	if _, _, err := c.CachedToken(ctx, hash[:]); !failure.Is(err, failure.NotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	seed(t, st[1])
	if _, _, err := c.CachedToken(ctx, hash[:]); err != nil {
		t.Errorf("a token created after a miss: %v", err)
	}
}

// Full, the cache drops everything and keeps answering right; off, it reads every time.
func TestFullAndOff(t *testing.T) {
	st := replicas(t, 2)
	seed(t, st[0])
	full := readcache.New(st[0], readcache.Config{Staleness: time.Hour, MaxEntries: 1})
	off := readcache.New(st[0], readcache.Config{Staleness: -1})
	for _, c := range []*readcache.Cache{full, off} {
		token(t, c)
		owner(t, c) // fills the one entry of full: the token is dropped
	}
	update(t, st[1], revoke)
	if tok := token(t, full); tok.RevokedAt == nil {
		t.Error("a full cache kept the token it had to drop")
	}
	if tok := token(t, off); tok.RevokedAt == nil {
		t.Error("a cache turned off served a token from memory")
	}
}

// ViewCacheFirst answers from the cache alone, with no transaction, once the cache holds every
// row fn reads; a row it lacks, or a read it does not serve, runs fn again in a transaction
// with the same answers ViewCached gives; and a change through the cache shows at once.
func TestViewCacheFirst(t *testing.T) {
	st := replicas(t, 1)[0]
	seed(t, st)
	c := readcache.New(st, readcache.Config{Staleness: time.Hour})
	runs := 0
	readOwner := func() (string, error) {
		var o string
		err := c.ViewCacheFirst(ctx, func(tx store.Tx) (err error) {
			runs++
			o, _, err = tx.Ownership().Owner(key)
			return err
		})
		return o, err
	}
	if o, err := readOwner(); err != nil || o != "acme" || runs != 2 {
		t.Fatalf("first read: owner %q, %v after %d runs; want acme after a cache-only run and a transaction", o, err, runs)
	}
	runs = 0
	if o, err := readOwner(); err != nil || o != "acme" || runs != 1 {
		t.Fatalf("cached read: owner %q, %v after %d runs; want acme from the cache alone", o, err, runs)
	}

	// A read the cache does not serve (a principal) falls through to a transaction.
	var p party.Principal
	if err := c.ViewCacheFirst(ctx, func(tx store.Tx) (err error) {
		if _, _, err = tx.Ownership().Owner(key); err != nil {
			return err
		}
		p, err = tx.Parties().GetPrincipal("prn1")
		return err
	}); err != nil || p.ID != "prn1" {
		t.Fatalf("uncached read: principal %q, %v", p.ID, err)
	}
	// A row the cache does not hold is read, and a missing one is still NotFound.
	if err := c.ViewCacheFirst(ctx, func(tx store.Tx) error { _, err := tx.Catalog().GetLot("lot-nope"); return err }); !failure.Is(err, failure.NotFound) {
		t.Fatalf("unknown lot: %v, want NotFound", err)
	}

	update(t, c, moveCell)
	if o, err := readOwner(); err != nil || o != "fabrikam" {
		t.Fatalf("after moving the cell through the cache: owner %q, %v", o, err)
	}

	// No transaction: with the database closed, the cached answer still comes, and a
	// transaction cannot be opened.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	runs = 0
	if o, err := readOwner(); err != nil || o != "fabrikam" || runs != 1 {
		t.Fatalf("with the database closed: owner %q, %v after %d runs; want the cached answer", o, err, runs)
	}
	if err := c.ViewCached(ctx, func(tx store.Tx) error { _, _, err := tx.Ownership().Owner(key); return err }); err == nil {
		t.Fatal("ViewCached opened a transaction on a closed database")
	}
}

// ViewCacheFirst re-runs a function in a transaction when the cache refused one of its reads,
// even when the function made nothing of the refusal's error (here, took it for "no such
// principal"), and a panic of the function's own propagates from its first run, not taken
// for a read the cache does not serve.
func TestViewCacheFirstRefusalAndPanic(t *testing.T) {
	st := replicas(t, 1)[0]
	seed(t, st)
	c := readcache.New(st, readcache.Config{Staleness: time.Hour})
	runs := 0
	var found bool
	if err := c.ViewCacheFirst(ctx, func(tx store.Tx) error {
		runs++
		_, err := tx.Parties().GetPrincipal("prn1")
		found = err == nil
		return nil
	}); err != nil || !found || runs != 2 {
		t.Fatalf("a read the cache does not serve, its error dropped: found %v, %v after %d runs; want found after a refused run and a transaction", found, err, runs)
	}

	// Even with every read cached, the panic is fn's, and fn runs once.
	if err := c.ViewCacheFirst(ctx, func(tx store.Tx) error { _, _, err := tx.Ownership().Owner(key); return err }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"after a cached read", func(tx store.Tx) error {
			if _, _, err := tx.Ownership().Owner(key); err != nil {
				return err
			}
			panic("fn's own fault")
		}},
		{"after a refused read", func(tx store.Tx) error {
			_, _ = tx.Parties().GetPrincipal("prn1")
			panic("fn's own fault")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			p := func() (p any) {
				defer func() { p = recover() }()
				_ = c.ViewCacheFirst(ctx, func(tx store.Tx) error { runs++; return tc.fn(tx) })
				return nil
			}()
			if p != "fn's own fault" || runs != 1 {
				t.Fatalf("panic %v after %d runs; want fn's own panic from its first run", p, runs)
			}
		})
	}
}
