package sqlite

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"io/fs"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// keyBindingsVersion is the version prefix of the migration that records key hashes, found
// by name so that renumbering it does not break this test.
func keyBindingsVersion(t *testing.T) string {
	t.Helper()
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_key_bindings.sql") {
			return strings.SplitN(e.Name(), "_", 2)[0]
		}
	}
	t.Fatal("no key_bindings migration")
	return ""
}

// TestUpgradeBindsExistingKeys: certificates signed before key hashes were recorded get
// theirs from their stored TBS when the store opens, so one key already issued to two devices
// is seen as bound, and a row whose TBS does not parse is read once and left matching nothing.
func TestUpgradeBindsExistingKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, dialect{}, before(t, migrations, keyBindingsVersion(t)), "migrations"); err != nil {
		t.Fatal(err)
	}
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
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca-old', 'acme', 'manufacturing', 'issuing', 'old', 'k', ?, 1)`, []any{storetest.SelfSignedForTest(t)}},
		{`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, der, not_before, not_after, created_at) VALUES ('a1', 'ca-old', 'dev-1', 'factory', 'issued', ?, x'01', 1, ?, 1)`, []any{tbs(0xa1), notAfter}},
		{`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, der, not_before, not_after, created_at) VALUES ('a2', 'ca-old', 'dev-2', 'factory', 'issued', ?, x'01', 1, ?, 1)`, []any{tbs(0xa2), notAfter}},
		{`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, not_before, not_after, created_at) VALUES ('a3', 'ca-old', 'dev-3', 'factory', 'reserved', x'0102', 1, ?, 1)`, []any{notAfter}},
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
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256Of(spki)
	_ = s.View(ctx, func(tx store.Tx) error {
		for _, dev := range []string{"dev-1", "dev-2", "dev-9"} {
			if b, err := tx.Certificates().KeyBoundElsewhere(sum, dev); err != nil || !b {
				t.Errorf("after the upgrade, the key of a1 and a2 is bound elsewhere than %s: %v, %v", dev, b, err)
			}
		}
		return nil
	})
	var left int
	raw, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.QueryRow(`SELECT count(*) FROM certificates WHERE key_sha256 IS NULL`).Scan(&left); err != nil || left != 0 {
		t.Errorf("certificates without a key hash after the upgrade: %d (%v), want 0", left, err)
	}
}

func sha256Of(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
