package reports_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// caCert is a CA certificate ending at notAfter.
func caCert(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: notAfter.Add(-10 * 365 * 24 * time.Hour), NotAfter: notAfter,
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCAExpiry: the report gives each CA's warning level and status, soonest first, and counts
// those in service that need a successor; the gaps report lists exactly those. A succeeded or
// retired CA near its end is no gap; another party's CAs are not shown to a party.
func TestCAExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := 24 * time.Hour
	retired := now.Add(-day)
	cas := []ca.CA{
		{ID: "ca-far", PartyID: "acme", Role: ca.Root, Name: "far", KeyID: "k1", CertDER: caCert(t, now.Add(400*day))},
		{ID: "ca-90", PartyID: "acme", Role: ca.Issuing, Name: "i90", KeyID: "k2", CertDER: caCert(t, now.Add(80*day))},
		{ID: "ca-7", PartyID: "acme", Role: ca.Issuing, Name: "i7", KeyID: "k3", CertDER: caCert(t, now.Add(3*day))},
		{ID: "ca-gone", PartyID: "acme", Role: ca.Issuing, Name: "gone", KeyID: "k4", CertDER: caCert(t, now.Add(-day))},
		{ID: "ca-succeeded", PartyID: "acme", Role: ca.Issuing, Name: "old", KeyID: "k5", CertDER: caCert(t, now.Add(19*day))},
		{ID: "ca-retired", PartyID: "acme", Role: ca.Issuing, Name: "revoked", KeyID: "k6", CertDER: caCert(t, now.Add(20*day)), RetiredAt: &retired},
		{ID: "ca-other", PartyID: "globex", Role: ca.Issuing, Name: "other", KeyID: "k7", CertDER: caCert(t, now.Add(20*day))},
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		for _, id := range []string{"acme", "globex"} {
			if err := tx.Parties().CreateParty(party.Party{ID: id, Name: id, Kind: party.Manufacturer, CreatedAt: now}); err != nil {
				return err
			}
		}
		for _, c := range cas {
			c.Stage, c.CreatedAt = "manufacturing", now
			if err := tx.CAs().CreateCA(c); err != nil {
				return err
			}
			if c.RetiredAt != nil {
				if err := tx.CAs().RetireCA(c.ID, *c.RetiredAt); err != nil {
					return err
				}
			}
		}
		if _, _, err := tx.Succession().Succeed("ca-succeeded", "ca-far", now.Add(-day), now.Add(-day)); err != nil {
			return err
		}
		_, err := tx.Audit().Append(audit.Event{At: now, PartyID: "acme", PrincipalID: "test", Action: "test.seed"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	svc := reports.New(st, func() time.Time { return now })
	acme := audit.Actor{PartyID: "acme", PrincipalID: "alice"}

	r, err := svc.CAExpiry(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      string
		warning ca.ExpiryLevel
		status  ca.Status
	}{
		{"ca-gone", ca.LevelExpired, ca.StatusExpired},
		{"ca-7", ca.Level7Days, ca.StatusActive},
		{"ca-succeeded", ca.Level30Days, ca.StatusSucceeded},
		{"ca-retired", ca.Level30Days, ca.StatusRetired},
		{"ca-90", ca.Level90Days, ca.StatusActive},
		{"ca-far", ca.LevelNone, ca.StatusActive},
	}
	if len(r.Items) != len(want) {
		t.Fatalf("the report lists %d CAs, want acme's %d: %+v", len(r.Items), len(want), r.Items)
	}
	for i, w := range want {
		got := r.Items[i]
		if got.CAID != w.id || got.Warning != w.warning || got.Status != w.status {
			t.Errorf("item %d = %s %q %s, want %s %q %s", i, got.CAID, got.Warning, got.Status, w.id, w.warning, w.status)
		}
	}
	if r.Warnings != 3 {
		t.Errorf("warnings = %d, want 3 (expired, 7d, 90d; not the succeeded or retired CA)", r.Warnings)
	}

	g, err := svc.Gaps(ctx, acme, reports.GapsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var gaps []string
	for _, x := range g.CAExpiry {
		gaps = append(gaps, x.CAID)
	}
	if len(gaps) != 3 || gaps[0] != "ca-gone" || gaps[1] != "ca-7" || gaps[2] != "ca-90" {
		t.Errorf("CA expiry gaps = %v, want ca-gone, ca-7, ca-90", gaps)
	}

	all, err := svc.CAExpiry(ctx, audit.Actor{PartyID: party.Deployment, PrincipalID: "root", Admin: true})
	if err != nil || len(all.Items) != len(cas) {
		t.Errorf("a deployment administrator's report lists %d CAs, %v; want all %d", len(all.Items), err, len(cas))
	}
	// A party's administrator sees its party's CAs, like its other principals.
	other, err := svc.CAExpiry(ctx, audit.Actor{PartyID: "hq", PrincipalID: "hq-admin", Admin: true})
	if err != nil || len(other.Items) != 0 {
		t.Errorf("another party's administrator's report lists %d CAs, %v; want none", len(other.Items), err)
	}
}
