package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradePrincipalTokens: a database from before migration 0020 keeps its principals and
// their tokens; its administrators become deployment administrators.
func TestUpgradePrincipalTokens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, "0020"), "migrations"); err != nil {
		t.Fatal(err)
	}
	storetest.SeedBeforePrincipalTokens(t, db, "?")
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckPrincipalTokensUpgrade(t, s)
}
