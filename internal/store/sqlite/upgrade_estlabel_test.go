package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeClaimsESTNames: environments from before migration 0012 keep the EST labels they
// answered to; a name several operators shared (ambiguous before) goes to the environment
// created first, and the later one keeps its ID as its only label.
func TestUpgradeClaimsESTNames(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, "0012"), "migrations"); err != nil {
		t.Fatal(err)
	}
	for _, st := range storetest.UpgradeESTNamesSeed(t) {
		if _, err := db.Exec(st.Query, st.Args...); err != nil {
			t.Fatalf("%s: %v", st.Query, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(ctx, func(tx store.Tx) error {
		storetest.CheckUpgradedESTNames(t, tx)
		return nil
	})
}
