package postgres

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
	s, dsn := upgradedFrom(t, "0032", storetest.SeedBeforeEnvironmentIndex)
	storetest.CheckEnvironmentIndexUpgrade(t, s)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var def string
	if err := db.QueryRow(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'devices_environment'`).Scan(&def); err != nil || !strings.Contains(def, "WHERE (environment_id <> ''::text)") {
		t.Errorf("devices_environment after the upgrade: %q, %v; want the partial index", def, err)
	}
}
