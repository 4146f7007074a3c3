package sqlite

import (
	"database/sql"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store/storetest"
)

// TestUpgradeCertificateIntents: migration 0037 moves the reservations of an older database
// into certificate_intents; each is still reserved, with its TBS, and is signed as a new one
// is; issued certificates stay where they are.
func TestUpgradeCertificateIntents(t *testing.T) {
	seed, check := storetest.CertificateIntentsUpgrade(t)
	s, path := upgradedFrom(t, "0037", seed)
	check(t, s)
	s.Close()

	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var certs, intents int
	if err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM certificates), (SELECT COUNT(*) FROM certificate_intents)`).Scan(&certs, &intents); err != nil || certs != 2 || intents != 0 {
		t.Errorf("after signing b1: %d certificates and %d intents, %v; want 2 and 0", certs, intents, err)
	}
}
