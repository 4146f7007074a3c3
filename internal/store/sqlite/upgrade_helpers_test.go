package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// upgradedFrom makes a database at the schema before migration version, seeds it with seed
// (the dialect's placeholder is "?"), and opens it with Open, which applies the rest. It
// returns the store (closed when the test ends) and the database's path.
func upgradedFrom(t *testing.T, version string, seed func(t *testing.T, db *sql.DB, ph string)) (*sqlstore.Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, version), "migrations"); err != nil {
		t.Fatal(err)
	}
	seed(t, db, "?")
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}
