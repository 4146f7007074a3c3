package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

var groupCommitTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"GroupCommitFallbackKeepsOutcomes", testGroupCommitFallback},
}

// groupCommitter is a store that batches write transactions (sqlstore's group commit).
type groupCommitter interface {
	GroupCommitStats() (batches, fallbacks int64)
}

// testGroupCommitFallback holds the writer so that four write transactions queue into one
// batch: two succeed, one fails with its own error after writing and appending an audit
// event, one fails on a unique violation (which, on PostgreSQL, aborts the whole database
// transaction). The batch first runs without savepoints; the failures must roll it back and
// run it again with a savepoint per request, so that the two others commit, neither failed
// one's writes remain, each caller gets its own outcome and the audit tree verifies.
func testGroupCommitFallback(t *testing.T, s store.Store) {
	gc, ok := s.(groupCommitter)
	if !ok {
		t.Skip("the store has no group commit")
	}
	boom := errors.New("boom")
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "taken", Name: "Taken", Kind: party.Operator, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("party.create"))
		return err
	})
	want := 1
	create := func(id string, fail bool) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			if err := tx.Parties().CreateParty(party.Party{ID: id, Name: "Party " + id, Kind: party.Operator, CreatedAt: t0}); err != nil {
				return err
			}
			if _, err := tx.Audit().Append(audit.Event{At: t0, PartyID: id, PrincipalID: "x", Action: "party.create"}); err != nil {
				return err
			}
			if fail {
				return boom
			}
			return nil
		}
	}
	conflict := func(tx store.Tx) error {
		return tx.Parties().CreateParty(party.Party{ID: "taken", Name: "Taken again", Kind: party.Operator, CreatedAt: t0})
	}
	for attempt := 0; attempt < 20; attempt++ {
		_, before := gc.GroupCommitStats()
		held, release := make(chan struct{}), make(chan struct{})
		holder := make(chan error, 1)
		go func() {
			holder <- s.Update(ctx, func(tx store.Tx) error { close(held); <-release; return nil })
		}()
		<-held
		ids := []string{fmt.Sprintf("a%02d", attempt), fmt.Sprintf("b%02d", attempt), "", fmt.Sprintf("d%02d", attempt)}
		results := make([]error, len(ids))
		var queued, wg sync.WaitGroup
		for i, id := range ids {
			queued.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				queued.Done()
				if id == "" {
					results[i] = s.Update(ctx, conflict)
					return
				}
				results[i] = s.Update(ctx, create(id, i == 1))
			}()
		}
		queued.Wait()
		time.Sleep(20 * time.Millisecond) // let the four reach the writer's queue; not a timing assertion
		close(release)
		if err := <-holder; err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for i, err := range results {
			switch i {
			case 1:
				if !errors.Is(err, boom) {
					t.Fatalf("failing transaction: %v, want its own error", err)
				}
			case 2:
				if !errors.Is(err, store.ErrConflict) {
					t.Fatalf("conflicting transaction: %v, want ErrConflict", err)
				}
			default:
				if err != nil {
					t.Fatalf("transaction %s: %v", ids[i], err)
				}
			}
		}
		want += 2
		mustView(t, s, func(tx store.Tx) error {
			for i, id := range ids {
				if id == "" {
					continue
				}
				_, err := tx.Parties().GetParty(id)
				if i == 1 && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("party %s of the failed transaction: %v, want not found", id, err)
				}
				if i != 1 && err != nil {
					t.Errorf("party %s: %v", id, err)
				}
			}
			p, err := tx.Parties().GetParty("taken")
			if err != nil || p.Name != "Taken" {
				t.Errorf("party taken: %+v, %v; want the first one", p, err)
			}
			return nil
		})
		if _, after := gc.GroupCommitStats(); after > before {
			CheckAuditTree(t, s, want)
			return
		}
	}
	t.Fatal("in 20 attempts the transactions never shared a batch that fell back")
}
