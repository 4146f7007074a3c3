package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/pgtest"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlstore"
)

// TestRotationTrendBuffersPostgres: on PostgreSQL, the rotation trend over a fleet of 2,000
// devices (a third of them renewed) reads about the pages its tables and their indexes hold,
// not a few pages per evidence row. With the device and profile as join conditions of the
// certificate, PostgreSQL multiplied the selectivities of the device and the serial (which
// name the same row), underestimated the rows and looked up devices row by row: on this fleet
// 10,780 buffers where the serial join and ownTrendCert read 138, and its tables and indexes
// hold 383 pages; "THEN 1 ELSE 0 END = 1" for ownTrendCert read 8,114. Buffers count work, not
// time.
func TestRotationTrendBuffersPostgres(t *testing.T) {
	dsn := pgtest.SchemaDSN(t, "hm_trendplan")
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := trendFleet(ctx, st, t0, 2000); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ANALYZE evidence, certificates, devices, environments`); err != nil {
		t.Fatal(err)
	}
	// pages is what the trend's tables and their indexes hold.
	var pages int64
	if err := db.QueryRow(`SELECT SUM(pg_total_relation_size(c.oid) / current_setting('block_size')::bigint) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname IN ('evidence', 'certificates', 'devices', 'environments')`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for d := 0; d <= 30; d++ {
		at = append(at, t0.Add(time.Duration(d)*24*time.Hour))
	}
	for _, sc := range []store.ReportScope{{All: true}, {PartyID: "op"}, {PartyID: "op", Operational: true}} {
		query, args := sqlstore.RotationTrendQuery(sc, at)
		var n int
		query = rebindPG(query, &n)
		var out []byte
		if err := db.QueryRow(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+query, args...).Scan(&out); err != nil {
			t.Fatalf("%+v: %v", sc, err)
		}
		var plan []struct {
			Plan struct {
				Hit  int64 `json:"Shared Hit Blocks"`
				Read int64 `json:"Shared Read Blocks"`
			}
		}
		if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
			t.Fatalf("%+v: plan %s: %v", sc, out, err)
		}
		if b := plan[0].Plan.Hit + plan[0].Plan.Read; b > 2*pages {
			t.Errorf("%+v: the trend read %d buffers; its tables and indexes hold %d pages (want at most twice that)", sc, b, pages)
		}
	}
}

// rebindPG numbers the '?' placeholders of q from *n+1 on.
func rebindPG(q string, n *int) string {
	var b strings.Builder
	for _, r := range q {
		if r == '?' {
			*n++
			fmt.Fprintf(&b, "$%d", *n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// trendFleet writes n active devices of operator op in one environment, each with an
// operational certificate issued at t0 plus its index in minutes and its evidence; every third
// device renewed from an earlier certificate, revoked when superseded.
func trendFleet(ctx context.Context, st store.Store, t0 time.Time, n int) error {
	ev := audit.Event{At: t0, PartyID: "acme", PrincipalID: "x", Action: "test"}
	err := st.Update(ctx, func(tx store.Tx) error {
		for _, p := range []party.Party{{ID: "acme", Name: "Acme", Kind: party.Manufacturer}, {ID: "op", Name: "Op", Kind: party.Operator}} {
			p.CreatedAt = t0
			if err := tx.Parties().CreateParty(p); err != nil {
				return err
			}
		}
		if err := tx.CAs().CreateCA(ca.CA{ID: "ca1", PartyID: "acme", Stage: "manufacturing", Role: ca.Root, Name: "root", KeyID: "k", CertDER: []byte{1}, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateModel(device.Model{ID: "m1", ManufacturerID: "acme", Name: "m", HardwareType: "1.2.3", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Catalog().CreateLot(device.Lot{ID: "l1", ManufacturerID: "acme", ModelID: "m1", Name: "l", Line: "a", IssuingCAID: "ca1", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Environments().CreateEnvironment(environment.Environment{ID: "env1", OperatorID: "op", Name: "env1", IssuingCAID: "ca1", TrustDomain: "td",
			Lifetime: environment.Duration(24 * time.Hour), MaxAge: environment.Duration(24 * time.Hour), Services: []string{"mqtt"}, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("trend fleet: %w", err)
	}
	serial := int64(0x1000)
	issue := func(tx store.Tx, deviceID, kind, based string, at time.Time) (string, error) {
		serial++
		s := big.NewInt(serial)
		if err := tx.Certificates().Reserve(ca.Cert{Serial: s, CAID: "ca1", DeviceID: deviceID, Profile: store.OperationalProfile, TBS: []byte{1}, NotBefore: at, NotAfter: at.Add(24 * time.Hour), CreatedAt: at}); err != nil {
			return "", err
		}
		if err := tx.Certificates().MarkIssued(s, []byte{1}, at); err != nil {
			return "", err
		}
		return ca.SerialHex(s), tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(s), DeviceID: deviceID, EnvironmentID: "env1", Kind: kind, BasedOn: based,
			Protocol: "est", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{}`), CreatedAt: at})
	}
	return st.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("dev-%05d", i)
			if err := tx.Devices().CreateDevice(device.Device{ID: id, ManufacturerID: "acme", ModelID: "m1", LotID: "l1", Serial: "SN-" + id, State: device.Active,
				CustodianID: "op", EnvironmentID: "env1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			at := t0.Add(time.Duration(i) * time.Minute)
			kind, based := "onboard", ""
			if i%3 == 0 {
				first, err := issue(tx, id, "onboard", "", at)
				if err != nil {
					return err
				}
				at, kind, based = at.Add(20*time.Hour), "renew", first
			}
			if _, err := issue(tx, id, kind, based, at); err != nil {
				return err
			}
		}
		_, err := tx.Audit().Append(ev)
		return err
	})
}
