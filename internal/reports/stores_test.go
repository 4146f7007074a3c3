package reports_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// onStores runs fn on a new SQLite store and on a new schema of HALLMARK_TEST_POSTGRES's
// server (skipped without it), each closed when its subtest ends.
func onStores(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hallmark.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), freshPostgres(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fn(t, st)
	})
}

// auditedChange runs fn in a transaction with an audit event at at, as every change of
// Hallmark's is made.
func auditedChange(t *testing.T, st store.Store, at time.Time, fn func(tx store.Tx) error) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: at, PartyID: "p", PrincipalID: "x", Action: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
