package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestGroupCommitIsolatesOutcomes runs many concurrent write transactions, so that they share
// commits, where some fail after writing and some write without an audit event. Each caller
// must get its own outcome, and the database must hold exactly the writes of those that
// succeeded, with one audit event each, in a tree that verifies.
func TestGroupCommitIsolatesOutcomes(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	boom := errors.New("boom")
	const n = 300
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.Update(ctx, func(tx store.Tx) error {
				id := fmt.Sprintf("p%03d", i)
				if err := tx.Parties().CreateParty(party.Party{ID: id, Name: "Party " + id, Kind: party.Operator, CreatedAt: time.Now()}); err != nil {
					return err
				}
				switch i % 5 {
				case 1:
					return boom // after a write: rolled back to its savepoint
				case 2:
					return nil // a write without an audit event
				}
				_, err := tx.Audit().Append(audit.Event{At: time.Now(), PartyID: id, PrincipalID: "x", Action: "party.create"})
				return err
			})
		}()
	}
	wg.Wait()
	want := 0
	for i, err := range results {
		switch i % 5 {
		case 1:
			if !errors.Is(err, boom) {
				t.Fatalf("transaction %d: %v, want its own error", i, err)
			}
		case 2:
			if !errors.Is(err, store.ErrUnaudited) {
				t.Fatalf("transaction %d: %v, want ErrUnaudited", i, err)
			}
		default:
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
			want++
		}
	}
	err = s.View(ctx, func(tx store.Tx) error {
		ps, err := tx.Parties().ListParties()
		if err != nil {
			return err
		}
		if len(ps) != want {
			t.Errorf("%d parties stored, want %d", len(ps), want)
		}
		for _, p := range ps {
			var i int
			fmt.Sscanf(p.ID, "p%d", &i)
			if i%5 == 1 || i%5 == 2 {
				t.Errorf("party %s of a failed transaction is stored", p.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckAuditTree(t, s, want)
}

// TestGroupCommitSkipsEndedContexts: a caller whose context has ended is answered with its
// context's error and its function never runs.
func TestGroupCommitSkipsEndedContexts(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err = s.Update(ctx, func(tx store.Tx) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("ended context: err %v, ran %v", err, ran)
	}
	s.Close()
	if err := s.Update(context.Background(), func(tx store.Tx) error { return nil }); err == nil {
		t.Fatal("an update after Close succeeded")
	}
}
