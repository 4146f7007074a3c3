package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeKeepsFactoryValidityOfIssuer: after migration 0015 a manufacturing issuing CA
// that existed before it keeps giving factory certificates its own notAfter ("issuer"), and
// CAs that issue no factory certificates (its root, an operational issuing CA) hold "".
func TestUpgradeKeepsFactoryValidityOfIssuer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, "0015"), "migrations"); err != nil {
		t.Fatal(err)
	}
	der := storetest.SelfSignedForTest(t)
	for _, q := range []string{
		`INSERT INTO parties (id, name, kind, created_at) VALUES ('acme', 'Acme', 'manufacturer', 1)`,
		`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca-root', 'acme', 'manufacturing', 'root', 'r', 'k1', ?, 1)`,
		`INSERT INTO cas (id, party_id, stage, role, parent_id, name, key_id, cert_der, created_at) VALUES ('ca-mfg', 'acme', 'manufacturing', 'issuing', 'ca-root', 'm', 'k2', ?, 1)`,
		`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca-ops', 'acme', 'operational', 'issuing', 'o', 'k3', ?, 1)`,
	} {
		var args []any
		if q[12] == 'c' { // INSERT INTO cas
			args = []any{der}
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(ctx, func(tx store.Tx) error {
		for id, want := range map[string]string{"ca-root": "", "ca-mfg": ca.FactoryValidityIssuer, "ca-ops": ""} {
			if c, err := tx.CAs().GetCA(id); err != nil || c.FactoryValidity != want {
				t.Errorf("CA %s after the upgrade: factory validity %q (%v), want %q", id, c.FactoryValidity, err, want)
			}
		}
		return nil
	})
}
