package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeRenumbersAndFoldsOldEvents: events written before migration 0004 by an identity
// column (with the gaps rollbacks leave) are renumbered densely in their order and become the
// first leaves at the first write after the upgrade.
func TestUpgradeRenumbersAndFoldsOldEvents(t *testing.T) {
	base := os.Getenv("HALLMARK_TEST_POSTGRES")
	if base == "" {
		t.Skip("PostgreSQL side skipped: set HALLMARK_TEST_POSTGRES")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := fmt.Sprintf("hm_upgrade_%d", time.Now().UnixNano())
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	entries, _ := fs.ReadDir(migrations, "migrations")
	for _, e := range entries {
		if e.Name() < "0004" {
			b, _ := fs.ReadFile(migrations, "migrations/"+e.Name())
			old["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, old, "migrations"); err != nil {
		t.Fatal(err)
	}
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

	s, err := Open(ctx, u.String())
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
