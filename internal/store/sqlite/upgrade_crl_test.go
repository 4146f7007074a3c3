package sqlite

import (
	"context"
	"database/sql"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeKeepsCAsUnpartitioned: a CA and its revoked certificate from before migration
// 0006 stay unpartitioned (P = 0, partition 0), the CA's full CRL walk still lists the
// certificate, and the recreated change-feed trigger still fires.
func TestUpgradeKeepsCAsUnpartitioned(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, "0006"), "migrations"); err != nil {
		t.Fatal(err)
	}
	notAfter := time.Now().Add(time.Hour).UnixMicro()
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('acme', 'Acme', 'manufacturer', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca-old', 'acme', 'manufacturing', 'issuing', 'old', 'k', ?, 1)`, []any{storetest.SelfSignedForTest(t)}},
		{`INSERT INTO certificates (serial, ca_id, profile, state, tbs, not_before, not_after, created_at, revoked_at, reason) VALUES ('a1', 'ca-old', 'factory', 'revoked', x'01', 1, ?, 1, 1, 4)`, []any{notAfter}},
		{`INSERT INTO certificates (serial, ca_id, profile, state, tbs, not_before, not_after, created_at) VALUES ('a2', 'ca-old', 'factory', 'issued', x'01', 1, ?, 1)`, []any{notAfter}},
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
	var start int64
	_ = s.View(ctx, func(tx store.Tx) error {
		c, err := tx.CAs().GetCA("ca-old")
		if err != nil || c.CRLPartitions != 0 {
			t.Errorf("old CA: %d partitions (%v), want 0", c.CRLPartitions, err)
		}
		cert, err := tx.Certificates().GetCert(big.NewInt(0xa1))
		if err != nil || cert.CRLPartition != 0 {
			t.Errorf("old certificate: partition %d (%v), want 0", cert.CRLPartition, err)
		}
		var got []string
		if err := tx.Status().EachRevoked("ca-old", time.Now(), func(e store.RevokedEntry) error { got = append(got, e.SerialHex); return nil }); err != nil || len(got) != 1 || got[0] != "a1" {
			t.Errorf("full CRL walk of the old CA: %v %v", got, err)
		}
		start, err = tx.Status().LastChange()
		return err
	})
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Certificates().Revoke(big.NewInt(0xa2), 1, time.Now()); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{PartyID: "acme", PrincipalID: "x", Action: "cert.revoke"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var changes []store.StatusChange
	_ = s.View(ctx, func(tx store.Tx) (err error) { changes, err = tx.Status().Changes(start, 10); return err })
	if len(changes) != 1 || changes[0].SerialHex != "a2" || changes[0].CRLPartition != 0 {
		t.Errorf("change feed after the upgrade: %+v", changes)
	}
}
