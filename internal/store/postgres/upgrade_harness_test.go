package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// migratedBefore gives an upgrade test a fresh schema on HALLMARK_TEST_POSTGRES migrated by
// every migration whose name sorts before version, as a database of that older release would
// be. It returns the open handle for seeding (the caller closes it before opening the store)
// and the DSN scoped to the schema, which is dropped when the test ends. Without PostgreSQL
// the test is skipped.
func migratedBefore(t *testing.T, version string) (*sql.DB, string) {
	t.Helper()
	base := os.Getenv("HALLMARK_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("hm_upgrade_%s_%d", version, time.Now().UnixNano())
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	db, err := sql.Open("pgx", u.String())
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
	return db, u.String()
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
