package leader_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/leader"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// flaky fails every Update while down is set, as a store whose database went away.
type flaky struct {
	store.Store
	down atomic.Bool
}

func (f *flaky) Update(ctx context.Context, fn func(store.Tx) error) error {
	if f.down.Load() {
		return errors.New("database unreachable")
	}
	return f.Store.Update(ctx, fn)
}

func TestOneLeaderAndHandover(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const ttl = 400 * time.Millisecond
	a := leader.New(leader.Config{Store: s, Holder: "a", TTL: ttl, Log: quiet})
	b := leader.New(leader.Config{Store: s, Holder: "b", TTL: ttl, Log: quiet})
	if ok, err := a.Try(ctx); !ok || err != nil {
		t.Fatalf("a.Try = %v, %v; want leading", ok, err)
	}
	if ok, err := b.Try(ctx); ok || err != nil {
		t.Fatalf("b.Try = %v, %v; want following", ok, err)
	}
	ta, ok := a.Current()
	if !ok || ta.Holder != "a" || ta.Epoch != 1 {
		t.Fatalf("a.Current = %+v, %v", ta, ok)
	}
	if _, ok := b.Current(); ok {
		t.Fatal("b believes it leads")
	}
	// a dies (stops renewing): it stops believing it leads after the TTL, and b takes over
	// with the next epoch; a's fence then fails.
	deadline := time.Now().Add(5 * ttl)
	for {
		if ok, _ := b.Try(ctx); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b did not take over an expired lease")
		}
		time.Sleep(ttl / 8)
	}
	if _, ok := a.Current(); ok {
		t.Fatal("a still believes it leads after its lease expired")
	}
	tb, _ := b.Current()
	if tb.Epoch != 2 {
		t.Fatalf("b's epoch = %d, want 2", tb.Epoch)
	}
	if err := s.View(ctx, ta.Fence); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the former leader's fence = %v, want conflict", err)
	}
	if err := s.View(ctx, tb.Fence); err != nil {
		t.Fatalf("the leader's fence: %v", err)
	}
	// A stopping leader releases the lease: a takes it at once, without waiting for expiry.
	if err := b.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Try(ctx); !ok || err != nil {
		t.Fatalf("a.Try after b stopped = %v, %v; want leading at once", ok, err)
	}
	if ta, _ := a.Current(); ta.Epoch != 3 {
		t.Fatalf("a's epoch = %d, want 3", ta.Epoch)
	}
	if ok, _ := b.Try(ctx); ok {
		t.Fatal("a stopped elector took the lease")
	}
}

func TestLeaderStopsSigningWhenTheStoreIsUnreachable(t *testing.T) {
	ctx := context.Background()
	f := &flaky{Store: openStore(t)}
	const ttl = 300 * time.Millisecond
	a := leader.New(leader.Config{Store: f, Holder: "a", TTL: ttl, Log: quiet})
	if ok, _ := a.Try(ctx); !ok {
		t.Fatal("a does not lead")
	}
	f.down.Store(true)
	if ok, err := a.Try(ctx); ok || err == nil {
		t.Fatalf("Try with the store down = %v, %v; want an error", ok, err)
	}
	if _, ok := a.Current(); !ok {
		t.Fatal("a renewal that failed ended the term before its deadline")
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if _, ok := a.Current(); ok {
		t.Fatal("a leader cut off from the store still leads after the TTL")
	}
	f.down.Store(false)
	if ok, _ := a.Try(ctx); !ok {
		t.Fatal("a did not lead again once the store was back")
	}
	if ta, _ := a.Current(); ta.Epoch != 2 {
		t.Fatalf("epoch after retaking an expired lease = %d, want 2 (a new term)", ta.Epoch)
	}
}

func TestRunRenews(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := leader.New(leader.Config{Store: s, Holder: "a", TTL: 300 * time.Millisecond, Log: quiet})
	go a.Run(ctx)
	time.Sleep(time.Second) // three TTLs: only renewals keep a leading
	ta, ok := a.Current()
	if !ok || ta.Epoch != 1 {
		t.Fatalf("after 1 s of Run: %+v, %v; want still leading in epoch 1", ta, ok)
	}
}
