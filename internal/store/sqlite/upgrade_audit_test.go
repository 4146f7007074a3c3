package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// before returns the migrations older than version 0004 (the audit tree), or than version
// when given.
func before(t *testing.T, fsys fs.FS, version ...string) fs.FS {
	t.Helper()
	v := "0004"
	if len(version) > 0 {
		v = version[0]
	}
	t.Helper()
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < v {
			b, _ := fs.ReadFile(fsys, "migrations/"+e.Name())
			out["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	return out
}

// TestUpgradeFoldsOldEventsIntoTheTree: events written before migration 0004 become the
// first leaves, in their order, at the first write after the upgrade.
func TestUpgradeFoldsOldEventsIntoTheTree(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations), "migrations"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1100; i++ {
		detail := ""
		if i%2 == 0 {
			detail = `{"i": ` + strings.Repeat("1", 1+i%5) + `}`
		}
		if _, err := db.Exec(`INSERT INTO audit_events (at, party_id, principal_id, action, detail) VALUES (?, 'p', 'x', 'old.event', ?)`, 1_700_000_000_000_000+i, detail); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.AuditTree().Head(); return err }); err != nil {
		t.Fatal(err)
	}
	storetest.CheckAuditTree(t, s, 1100)
	if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.Audit().Append(storetestEvent()); return err }); err != nil {
		t.Fatal(err)
	}
	storetest.CheckAuditTree(t, s, 1101)
}

func storetestEvent() audit.Event {
	return audit.Event{PartyID: "p", PrincipalID: "x", Action: "new.event"}
}
