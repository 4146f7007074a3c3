package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeCountsTransferDevices: transfers from before migration 0010 get their stored
// device count from their rows.
func TestUpgradeCountsTransferDevices(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, "0010"), "migrations"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('acme', 'Acme', 'manufacturer', 1), ('dist', 'Dist', 'distributor', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca1', 'acme', 'manufacturing', 'issuing', 'ca', 'k', ?, 1)`, []any{storetest.SelfSignedForTest(t)}},
		{`INSERT INTO models (id, manufacturer_id, name, hardware_type, created_at) VALUES ('m1', 'acme', 'm', '1.2.3', 1)`, nil},
		{`INSERT INTO lots (id, manufacturer_id, model_id, name, line, issuing_ca_id, created_at) VALUES ('l1', 'acme', 'm1', 'l', 'a', 'ca1', 1)`, nil},
		{`INSERT INTO devices (id, manufacturer_id, model_id, lot_id, serial, state, custodian_id, created_at, updated_at) VALUES ('d1', 'acme', 'm1', 'l1', 'S1', 'registered', 'dist', 1, 1), ('d2', 'acme', 'm1', 'l1', 'S2', 'registered', 'dist', 1, 1), ('d3', 'acme', 'm1', 'l1', 'S3', 'registered', 'acme', 1, 1)`, nil},
		{`INSERT INTO transfers (id, from_party_id, to_party_id, state, offered_by, offered_at, decided_by, decided_at) VALUES ('tr1', 'acme', 'dist', 'accepted', 'x', 1, 'y', 2), ('tr2', 'acme', 'dist', 'offered', 'x', 3, '', NULL)`, nil},
		{`INSERT INTO transfer_items (transfer_id, device_id, open) VALUES ('tr1', 'd2', NULL), ('tr1', 'd1', NULL), ('tr2', 'd3', 1)`, nil},
	} {
		if _, err := db.Exec(st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(ctx, func(tx store.Tx) error {
		for id, want := range map[string]int{"tr1": 2, "tr2": 1} {
			if tr, err := tx.Custody().GetTransfer(id); err != nil || tr.DeviceCount != want {
				t.Errorf("%s after the upgrade: %d devices (%v), want %d", id, tr.DeviceCount, err, want)
			}
		}
		if ids, err := tx.Custody().TransferDevices("tr1", "", 0); err != nil || !slices.Equal(ids, []string{"d1", "d2"}) {
			t.Errorf("devices of tr1 = %v, %v", ids, err)
		}
		return nil
	})
}
