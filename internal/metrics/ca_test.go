package metrics_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/metrics"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

func caCertDER(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: notAfter.Add(-time.Hour * 24 * 365), NotAfter: notAfter,
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCAExpiryGauges: seconds to expiry and service per CA, read from a real store at most
// once per refresh interval, and absent while the store cannot be read.
func TestCAExpiryGauges(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := openStore(t)
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Parties().CreateParty(party.Party{ID: "acme", Name: "Acme", Kind: party.Manufacturer, CreatedAt: now}); err != nil {
			return err
		}
		for id, days := range map[string]int{"ca-old": 30, "ca-new": 400} {
			if err := tx.CAs().CreateCA(ca.CA{ID: id, PartyID: "acme", Stage: "manufacturing", Role: ca.Issuing, Name: id, KeyID: id, CertDER: caCertDER(t, now.Add(time.Duration(days)*24*time.Hour)), CreatedAt: now}); err != nil {
				return err
			}
		}
		if _, _, err := tx.Succession().Succeed("ca-old", "ca-new", now, now); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "acme", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	list := func(ctx context.Context) ([]ca.CA, error) {
		calls.Add(1)
		var out []ca.CA
		err := st.View(ctx, func(tx store.Tx) (err error) { out, err = tx.CAs().ListCAs(""); return err })
		return out, err
	}
	m := metrics.New(quiet)
	if err := m.WatchCAs(metrics.CAState{List: list, Refresh: time.Hour, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		fams := scrape(t, m)
		for _, tc := range []struct {
			name string
			id   string
			want float64
		}{
			{"hallmark_ca_expiry_seconds", "ca-old", 30 * 24 * 3600},
			{"hallmark_ca_expiry_seconds", "ca-new", 400 * 24 * 3600},
			{"hallmark_ca_in_service", "ca-old", 0},
			{"hallmark_ca_in_service", "ca-new", 1},
		} {
			if got, ok := value(fams, tc.name, map[string]string{"ca_id": tc.id, "party": "acme", "role": "issuing"}); !ok || got != tc.want {
				t.Errorf("scrape %d: %s{ca_id=%s} = %v (%v), want %v", i, tc.name, tc.id, got, ok, tc.want)
			}
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the CA list was read %d times over two scrapes, want 1", n)
	}

	m2 := metrics.New(quiet)
	if err := m2.WatchCAs(metrics.CAState{List: list, Refresh: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, ok := scrape(t, m2)["hallmark_ca_expiry_seconds"]; ok {
		t.Error("CA expiry is reported while the store cannot be read")
	}
}
