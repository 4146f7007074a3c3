package postgres

import (
	"context"
	"database/sql"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hallmark-id/hallmark/internal/store/pgtest"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// migratedBefore gives an upgrade test a fresh schema on HALLMARK_TEST_POSTGRES migrated by
// every migration whose name sorts before version, as a database of that older release would
// be. It returns the open handle for seeding (the caller closes it before opening the store)
// and the DSN scoped to the schema, which is dropped when the test ends. Without PostgreSQL
// the test is skipped.
func migratedBefore(t *testing.T, version string) (*sql.DB, string) {
	t.Helper()
	dsn := pgtest.SchemaDSN(t, "hm_upgrade_"+version)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < version {
			b, _ := fs.ReadFile(migrations, "migrations/"+e.Name())
			old["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	if err := sqlstore.Migrate(context.Background(), db, dialect{}, old, "migrations"); err != nil {
		t.Fatal(err)
	}
	return db, dsn
}

// upgradedFrom is an upgrade test's database of the release before version, seeded by seed
// (with "$1" as the first placeholder), then opened by this release, which migrates it. The
// store is closed when the test ends; the DSN reaches the upgraded schema.
func upgradedFrom(t *testing.T, version string, seed func(t *testing.T, db *sql.DB, ph string)) (*sqlstore.Store, string) {
	t.Helper()
	db, dsn := migratedBefore(t, version)
	seed(t, db, "$1")
	db.Close()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// migrationNamed is the number of the migration whose file name ends in suffix, so a test
// survives renumbering.
func migrationNamed(t *testing.T, suffix string) string {
	t.Helper()
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			return strings.SplitN(e.Name(), "_", 2)[0]
		}
	}
	t.Fatalf("no migration named *%s", suffix)
	return ""
}
