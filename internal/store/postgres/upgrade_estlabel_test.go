package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeClaimsESTNames: environments from before migration 0012 keep the EST labels they
// answered to; a name several operators shared goes to the environment created first.
func TestUpgradeClaimsESTNames(t *testing.T) {
	base := os.Getenv("HALLMARK_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("hm_upgrade_est_%d", time.Now().UnixNano())
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	entries, _ := fs.ReadDir(migrations, "migrations")
	for _, e := range entries {
		if e.Name() < "0012" {
			b, _ := fs.ReadFile(migrations, "migrations/"+e.Name())
			old["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, old, "migrations"); err != nil {
		t.Fatal(err)
	}
	for _, st := range storetest.UpgradeESTNamesSeed(t) {
		if _, err := db.Exec(sqlstore.QuestionToDollar(st.Query), st.Args...); err != nil {
			t.Fatalf("%s: %v", st.Query, err)
		}
	}
	db.Close()

	s, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(ctx, func(tx store.Tx) error {
		storetest.CheckUpgradedESTNames(t, tx)
		return nil
	})
}
