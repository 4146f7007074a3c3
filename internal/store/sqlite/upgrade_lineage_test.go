package sqlite

import (
	"database/sql"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeRecordsLineage: migration 0031 gives every principal of an older database its
// lineage, and a principal deleted before it the creator its principal.create audit event
// names; the lineage refuses to be changed or deleted, even by hand.
func TestUpgradeRecordsLineage(t *testing.T) {
	s, path := upgradedFrom(t, "0031", storetest.SeedBeforeLineage)
	storetest.CheckLineageUpgrade(t, s)
	s.Close()

	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`DELETE FROM principal_lineage WHERE principal_id = 'prn_bob'`,
		`UPDATE principal_lineage SET created_by = 'prn_x' WHERE principal_id = 'prn_bob'`,
	} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("%s: accepted, want refused (the lineage is append-only)", q)
		}
	}
	var by string
	if err := db.QueryRow(`SELECT created_by FROM principal_lineage WHERE principal_id = 'prn_bob'`).Scan(&by); err != nil || by != "prn_lead" {
		t.Errorf("bob's creator after the refused changes = %q, %v", by, err)
	}
}
