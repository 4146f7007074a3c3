package sqlite

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeEnvironmentIndex: migration 0032 makes devices_environment a partial index of
// onboarded devices; the devices of an older database are still found by environment, and
// the factory ones are still there.
func TestUpgradeEnvironmentIndex(t *testing.T) {
	s, path := upgradedFrom(t, "0032", storetest.SeedBeforeEnvironmentIndex)
	storetest.CheckEnvironmentIndexUpgrade(t, s)
	s.Close()

	db, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var def string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'devices_environment'`).Scan(&def); err != nil || !strings.Contains(def, "WHERE environment_id <> ''") {
		t.Errorf("devices_environment after the upgrade: %q, %v; want the partial index", def, err)
	}
	// Only the onboarded devices have an entry: d2, d3 and d4 (onboarded after the upgrade).
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM devices INDEXED BY devices_environment WHERE environment_id <> ''`).Scan(&n); err != nil || n != 3 {
		t.Errorf("entries of devices_environment = %d, %v; want 3", n, err)
	}
}
