package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// touchCountingRerunStore runs every write function once in a transaction it rolls back,
// then for real (a retry, or group commit's re-run of a batch, as Update's contract allows),
// and counts the token uses recorded.
type touchCountingRerunStore struct {
	store.Store
	touched []string
}

var errFirstRun = errors.New("first run rolled back by the test")

func (s *touchCountingRerunStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(tx); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	return s.Store.Update(c, fn)
}

func (s *touchCountingRerunStore) TouchToken(c context.Context, principalID, tokenID string, at time.Time) error {
	s.touched = append(s.touched, tokenID)
	return s.Store.TouchToken(c, principalID, tokenID, at)
}

// TestDevCredentialMixRerun: the dev credential mix records the last use of each token it
// stored, once, however often Update ran its write function. The function used to append to
// a list outside it, so a re-run also "used" the tokens of the rolled-back run.
func TestDevCredentialMixRerun(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hallmark.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	want := 0
	if err := st.Update(ctx, func(tx store.Tx) error {
		seen := map[string]bool{}
		for _, c := range devCredentials {
			for _, tok := range c.tokens {
				if tok.lastUsedAgo > 0 {
					want++
				}
			}
			if !seen[c.party] {
				seen[c.party] = true
				if err := tx.Parties().CreateParty(party.Party{ID: c.party, Name: c.party, Kind: party.Operator, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: party.Deployment, PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rs := &touchCountingRerunStore{Store: st}
	a := &App{Store: rs, Now: func() time.Time { return now }}
	if err := a.devCredentialMix(ctx); err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	if err := st.View(ctx, func(tx store.Tx) error {
		for _, c := range devCredentials {
			toks, err := tx.Parties().ListTokens(store.TokenFilter{PartyID: c.party})
			if err != nil {
				return err
			}
			for _, tok := range toks {
				stored[tok.Token.ID] = true
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(rs.touched) != want {
		t.Fatalf("%d token uses recorded, want %d", len(rs.touched), want)
	}
	for _, id := range rs.touched {
		if !stored[id] {
			t.Fatalf("a use recorded for token %s, which no committed run stored", id)
		}
	}
}
