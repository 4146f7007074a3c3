package postgres

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeEvidenceOwn: migration 0034 adds the index evidence_own; on a database written
// before it, each device's admission is read from its own evidence (evidence naming another
// device's certificate is not attributed to it), and evidence recorded after it is found.
func TestUpgradeEvidenceOwn(t *testing.T) {
	s, dsn := upgradedFrom(t, "0034", storetest.SeedBeforeEvidenceOwn)
	storetest.CheckEvidenceOwnUpgrade(t, s)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var def string
	if err := db.QueryRow(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'evidence_own'`).Scan(&def); err != nil || !strings.Contains(def, "UNIQUE INDEX evidence_own ON") || !strings.Contains(def, "(device_id, serial)") {
		t.Errorf("evidence_own after the upgrade: %q, %v; want the unique index on (device_id, serial)", def, err)
	}
}
