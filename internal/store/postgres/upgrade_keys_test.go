package postgres

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeBindsExistingKeys: certificates from before the key_bindings migration (found
// by name, so renumbering does not break this) get their key hash from their stored TBS when
// the store opens, so one key already issued to two devices is seen as bound.
func TestUpgradeBindsExistingKeys(t *testing.T) {
	ctx := context.Background()
	db, dsn := migratedBefore(t, migrationNamed(t, "_key_bindings.sql"))
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tbs := func(serial int64) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "dev"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c.RawTBSCertificate
	}
	notAfter := time.Now().Add(time.Hour).UnixMicro()
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('acme', 'Acme', 'manufacturer', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca1', 'acme', 'manufacturing', 'issuing', 'ca', 'k', $1, 1)`, []any{storetest.SelfSignedForTest(t)}},
		{`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, der, not_before, not_after, created_at) VALUES ('a1', 'ca1', 'dev-1', 'factory', 'issued', $1, '\x01', 1, $2, 1)`, []any{tbs(0xa1), notAfter}},
		{`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, der, not_before, not_after, created_at) VALUES ('a2', 'ca1', 'dev-2', 'factory', 'issued', $1, '\x01', 1, $2, 1)`, []any{tbs(0xa2), notAfter}},
		{`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, not_before, not_after, created_at) VALUES ('a3', 'ca1', 'dev-3', 'factory', 'reserved', '\x0102', 1, $1, 1)`, []any{notAfter}},
	} {
		if _, err := db.Exec(st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	_ = s.View(ctx, func(tx store.Tx) error {
		for _, dev := range []string{"dev-1", "dev-2", "dev-9"} {
			if b, err := tx.Certificates().KeyBoundElsewhere(sum[:], dev); err != nil || !b {
				t.Errorf("after the upgrade, the key of a1 and a2 is bound elsewhere than %s: %v, %v", dev, b, err)
			}
		}
		return nil
	})
	check, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var left int
	if err := check.QueryRow(`SELECT count(*) FROM certificates WHERE key_sha256 IS NULL`).Scan(&left); err != nil || left != 0 {
		t.Errorf("certificates without a key hash after the upgrade: %d (%v), want 0", left, err)
	}
}
