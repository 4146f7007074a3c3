package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hallmark.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hallmark.db")
	for i := 0; i < 2; i++ {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
}

// BenchmarkIssuanceWrites is the store's part of a factory issuance at 64 clients (group
// commit): go test -run '^$' -bench IssuanceWrites -benchtime 5000x ./internal/store/sqlite/
func BenchmarkIssuanceWrites(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hallmark.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	storetest.BenchIssuanceWrites(b, st, 64)
}

// BenchmarkRenewalCount is what a renewal reads to count a device's earlier renewals, by how
// many it made: go test -run '^$' -bench RenewalCount ./internal/store/sqlite/
func BenchmarkRenewalCount(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("renewals=%d", n), func(b *testing.B) {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hallmark.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			storetest.BenchRenewalCount(b, st, n)
		})
	}
}
