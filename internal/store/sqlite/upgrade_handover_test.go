package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeMarksHandoverTokens: migration 0033 marks the tokens a deployment administrator
// minted for a party's principals (one since deleted included) as hand-over tokens, and no
// other; a token stored after it keeps its flag.
func TestUpgradeMarksHandoverTokens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, "0033"), "migrations"); err != nil {
		t.Fatal(err)
	}
	storetest.SeedBeforeHandover(t, db, "?")
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckHandoverUpgrade(t, s)
}
