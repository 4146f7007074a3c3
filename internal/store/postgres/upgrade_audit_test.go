package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeRenumbersAndFoldsOldEvents: events written before migration 0004 by an identity
// column (with the gaps rollbacks leave) are renumbered densely in their order and become the
// first leaves at the first write after the upgrade.
func TestUpgradeRenumbersAndFoldsOldEvents(t *testing.T) {
	ctx := context.Background()
	db, dsn := migratedBefore(t, "0004")
	const n = 300
	for i := 0; i < n; i++ {
		ins := `INSERT INTO audit_events (at, party_id, principal_id, action, detail) VALUES ($1, 'p', 'x', 'old.event', $2)`
		if i%7 == 0 { // a rolled back insert leaves a gap in the identity
			tx, _ := db.Begin()
			if _, err := tx.Exec(ins, int64(i), ""); err != nil {
				t.Fatal(err)
			}
			tx.Rollback()
		}
		if _, err := db.Exec(ins, int64(1_700_000_000_000_000+i), fmt.Sprintf(`{"i": %d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.AuditTree().Head(); return err }); err != nil {
		t.Fatal(err)
	}
	storetest.CheckAuditTree(t, s, n)
	_ = s.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(99, 1)
		if err != nil || len(evs) != 1 || string(evs[0].Detail) != `{"i": 99}` {
			t.Errorf("event 100 after renumbering: %+v, %v", evs, err)
		}
		return nil
	})
}
