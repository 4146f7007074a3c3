package sqlite

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
	s, path := upgradedFrom(t, "0034", storetest.SeedBeforeEvidenceOwn)
	storetest.CheckEvidenceOwnUpgrade(t, s)
	s.Close()

	db, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Every evidence row has its entry: the three written before the upgrade and the one after.
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM evidence INDEXED BY evidence_own WHERE device_id > ''`).Scan(&n); err != nil || n != 4 {
		t.Errorf("entries of evidence_own = %d, %v; want 4", n, err)
	}
	// The admissions report's check of a device's evidence by device and serial reads the index
	// alone. Were the index not UNIQUE, SQLite would take the primary key (serial) and read the
	// row.
	var id, parent, unused int
	var plan string
	if err := db.QueryRow(`EXPLAIN QUERY PLAN SELECT x.serial FROM evidence x WHERE x.device_id = 'd1' AND x.serial = 'a1'`).Scan(&id, &parent, &unused, &plan); err != nil ||
		!strings.Contains(plan, "COVERING INDEX evidence_own") {
		t.Errorf("plan of the own-evidence lookup = %q, %v; want a covering search of evidence_own", plan, err)
	}
}
