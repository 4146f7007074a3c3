package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeMakers: migration 0019 rebuilds devices (its manufacturer, model and lot become
// optional for devices of makers that do not run Hallmark) and keeps every device, every row
// that refers to one, and the foreign keys.
func TestUpgradeMakers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, "0019"), "migrations"); err != nil {
		t.Fatal(err)
	}
	for _, st := range storetest.UpgradeMakersSeed(t) {
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
	storetest.CheckUpgradedMakers(t, s)
	s.Close()
	// Every row that refers to a device still finds it.
	db, err = sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_foreign_key_check`).Scan(&n); err != nil || n != 0 {
		t.Errorf("foreign key check after the upgrade: %d violations (%v)", n, err)
	}
	// The rebuilt table has every index the earlier migrations gave devices.
	for _, idx := range []string{"devices_custodian", "devices_lot", "devices_environment", "devices_custodian_lot"} {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'devices' AND name = ?`, idx).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s after the upgrade: %d (%v), want 1", idx, n, err)
		}
	}
}
