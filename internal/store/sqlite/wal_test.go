package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// TestWALStaysBoundedUnderReads writes steadily while readers keep read transactions open
// back to back, the load under which SQLite's own checkpoints can never start the log over.
// The writer's reset (resetWAL) must keep the write-ahead log near its limit, and every
// write must still be there.
func TestWALStaysBoundedUnderReads(t *testing.T) {
	defer func(v int64) { sqlite.WALResetBytes = v }(sqlite.WALResetBytes)
	sqlite.WALResetBytes = 1 << 20
	path := filepath.Join(t.TempDir(), "hallmark.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var stop atomic.Bool
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for !stop.Load() && ctx.Err() == nil {
				_ = s.View(ctx, func(tx store.Tx) error {
					_, err := tx.Parties().ListParties()
					time.Sleep(time.Millisecond) // the snapshot stays in use a while
					return err
				})
			}
		})
	}
	pad := strings.Repeat("x", 2000) // each write dirties a few pages
	var largest int64
	const rounds, perRound = 100, 25
	for r := range rounds {
		var wg sync.WaitGroup
		for i := range perRound {
			wg.Go(func() {
				id := fmt.Sprintf("p%03d-%02d", r, i)
				err := s.Update(ctx, func(tx store.Tx) error {
					if err := tx.Parties().CreateParty(party.Party{ID: id, Name: id + pad, Kind: party.Operator, CreatedAt: time.Now()}); err != nil {
						return err
					}
					_, err := tx.Audit().Append(audit.Event{At: time.Now(), PartyID: id, PrincipalID: "x", Action: "party.create"})
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
		time.Sleep(50 * time.Millisecond) // let a second pass now and then, so maintenance is due
	}
	stop.Store(true)
	readers.Wait()
	runs, fails := s.MaintenanceStats()
	t.Logf("largest write-ahead log %d bytes; %d maintenance calls, %d failed", largest, runs, fails)
	if runs == 0 {
		t.Fatal("the writer never ran its maintenance")
	}
	// Limit plus what one second of writes adds before the next check; without the reset the
	// log grows with every write (about 33 MB here).
	if largest > 12<<20 {
		t.Errorf("the write-ahead log reached %d bytes under steady reads, limit %d", largest, sqlite.WALResetBytes)
	}
	var n int
	if err := s.View(ctx, func(tx store.Tx) error {
		ps, err := tx.Parties().ListParties()
		n = len(ps)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != rounds*perRound {
		t.Fatalf("%d parties after the writes, want %d", n, rounds*perRound)
	}
}
