package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/pgtest"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// EnvDSN names the PostgreSQL server the tests use; .ci/run starts a throwaway cluster and
// sets it. Without it the PostgreSQL side is skipped, and says so.
const EnvDSN = "HALLMARK_TEST_POSTGRES"

// freshDSN creates an empty schema for one test and returns a DSN that uses it.
func freshDSN(t testing.TB) string { return pgtest.SchemaDSN(t, "hm") }

func TestContract(t *testing.T) {
	if os.Getenv(EnvDSN) == "" {
		t.Skipf("PostgreSQL side skipped: set %s to a server URL (.ci/run starts one)", EnvDSN)
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), freshDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConcurrentMigrations opens the same empty schema from several goroutines, as replicas
// starting together do: each migration is applied once.
func TestConcurrentMigrations(t *testing.T) {
	dsn := freshDSN(t)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkIssuanceWrites is the store's part of a factory issuance at 64 clients on
// PostgreSQL, with the write-ahead log it generates per issuance (wal-B/op: the server's WAL
// position before and after, so on a server nothing else writes to):
// HALLMARK_TEST_POSTGRES=... go test -run '^$' -bench IssuanceWrites -benchtime 5000x ./internal/store/postgres/
func BenchmarkIssuanceWrites(b *testing.B) {
	dsn := freshDSN(b)
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	lsn := func() int64 {
		var n int64
		if err := db.QueryRow(`SELECT (pg_current_wal_lsn() - '0/0')::bigint`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	before := lsn()
	storetest.BenchIssuanceWrites(b, st, 64)
	b.ReportMetric(float64(lsn()-before)/float64(b.N), "wal-B/op")
}
