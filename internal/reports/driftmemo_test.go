package reports_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
	"github.com/hallmark-id/hallmark/internal/store/pgtest"
	"github.com/hallmark-id/hallmark/internal/store/postgres"
	"github.com/hallmark-id/hallmark/internal/store/sqlite"
)

// TestDriftIncremental: a Service that remembers its drift reports answers, after every kind
// of change (a device renewed, one revoked and quarantined, a new build record, a record
// rewritten by hand in SQL, an environment's policy tightened, the build-record key rotated),
// exactly what a new Service computes from scratch; an unchanged round reads no device row;
// a changed one decodes only the devices whose inputs changed.
func TestDriftIncremental(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hallmark.db")
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testDriftIncremental(t, st, func(deviceID string) error {
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			if err != nil {
				return err
			}
			defer db.Close()
			return tamper(db, `UPDATE build_records SET envelope = CAST(replace(CAST(envelope AS TEXT), '"sig":"M', '"sig":"N') AS BLOB) WHERE device_id = ?`, deviceID)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := freshPostgres(t)
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		testDriftIncremental(t, st, func(deviceID string) error {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				return err
			}
			defer db.Close()
			return tamper(db, `UPDATE build_records SET envelope = convert_to(replace(convert_from(envelope, 'UTF8'), '"sig":"M', '"sig":"N'), 'UTF8') WHERE device_id = $1`, deviceID)
		})
	})
}

// tamper runs an UPDATE by hand that must change one row.
func tamper(db *sql.DB, q, deviceID string) error {
	res, err := db.Exec(q, deviceID)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return fmt.Errorf("%d rows changed, not 1", k)
	}
	return nil
}

// freshPostgres returns a DSN of an empty schema of HALLMARK_TEST_POSTGRES's server, dropped
// when the test ends; it skips the test without the variable.
func freshPostgres(t *testing.T) string {
	t.Helper()
	return pgtest.SchemaDSN(t, "hm_reports")
}

func testDriftIncremental(t *testing.T, st store.Store, tamperRecord func(deviceID string) error) {
	ctx := reports.ReuseUnchanged(context.Background()) // as the snapshot rounds ask
	const n = 300
	if err := fillFleet(ctx, st, n); err != nil {
		t.Fatal(err)
	}
	// fillFleet made party aud the deployment's auditor: it sees the whole fleet.
	now := benchNow
	clock := func() time.Time { return now }
	inc := reports.New(st, clock)
	actors := []audit.Actor{{PartyID: "aud", PrincipalID: "x", Admin: true}, {PartyID: "op1", PrincipalID: "y"}, {PartyID: "op2", PrincipalID: "z"}}

	// round computes every actor's drift with inc and checks each against a new Service's.
	round := func(step string) []reports.DriftReport {
		t.Helper()
		fresh := reports.New(st, clock)
		var out []reports.DriftReport
		for _, a := range actors {
			got, err := inc.Drift(ctx, a)
			if err != nil {
				t.Fatalf("%s: drift for %s: %v", step, a.PartyID, err)
			}
			want, err := fresh.Drift(context.Background(), a)
			if err != nil {
				t.Fatalf("%s: drift from scratch for %s: %v", step, a.PartyID, err)
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Fatalf("%s: %s's drift differs from a report from scratch:\n got %.600s\nwant %.600s", step, a.PartyID, g, w)
			}
			out = append(out, got)
		}
		return out
	}
	change := func(fn func(tx store.Tx) error) { t.Helper(); auditedChange(t, st, now, fn) }
	// expect checks the work since the last call: reports reused and read, rows, devices decoded.
	last := inc.DriftWork()
	expect := func(step string, reused, read, rows int64, decoded func(int64) bool) {
		t.Helper()
		w := inc.DriftWork()
		d := reports.DriftWork{Reused: w.Reused - last.Reused, Read: w.Read - last.Read, Rows: w.Rows - last.Rows, Decoded: w.Decoded - last.Decoded}
		last = w
		if d.Reused != reused || d.Read != read || (rows >= 0 && d.Rows != rows) || !decoded(d.Decoded) {
			t.Fatalf("%s: work %+v; want %d reused, %d read, %d rows", step, d, reused, read, rows)
		}
	}
	exactly := func(k int64) func(int64) bool { return func(d int64) bool { return d == k } }
	// Rows of one round of three actors: the auditor sees the fleet, each operator half.
	const rows = 2 * n

	first := round("first")
	expect("first", 0, 3, rows, exactly(n)) // each device decoded once, whatever the scopes
	if len(first[0].Items) == 0 || len(first[0].Policy) == 0 {
		t.Fatalf("the fleet shows no drift to compare: %+v", first[0])
	}
	round("unchanged")
	expect("unchanged", 3, 0, 0, exactly(0))
	// The API's live report reads the rows all the same, and decodes none of them again.
	if _, err := inc.Drift(context.Background(), actors[0]); err != nil {
		t.Fatal(err)
	}
	expect("live", 0, 1, n, exactly(0))

	// A device of env-1 (op1) renewed: a new operational certificate on other facts.
	dev := "dev-0000011"
	var serial int64 = 1 << 40
	change(func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(dev)
		if err != nil {
			return err
		}
		s := big.NewInt(serial)
		if err := issue(tx, s, dev, "operational", now, now.Add(24*time.Hour), []byte{1}); err != nil {
			return err
		}
		facts := `{"firmware_digest":"` + strings.Repeat("ab", 32) + `","hardware_revision":"B"}`
		if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(s), DeviceID: dev, EnvironmentID: d.EnvironmentID, Kind: "renew", BasedOn: d.OperationalCert,
			FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(facts), CreatedAt: now}); err != nil {
			return err
		}
		nd := d
		nd.OperationalCert, nd.UpdatedAt = ca.SerialHex(s), now
		return tx.Devices().UpdateDevice(nd, d)
	})
	round("renewed")
	expect("renewed", 0, 3, rows, exactly(1))

	// A device revoked and quarantined.
	dev = "dev-0000013"
	change(func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice(dev)
		if err != nil {
			return err
		}
		s, _ := new(big.Int).SetString(d.OperationalCert, 16)
		if err := tx.Certificates().Revoke(s, 1, now); err != nil {
			return err
		}
		nd := d
		nd.State, nd.UpdatedAt = device.Quarantined, now
		return tx.Devices().UpdateDevice(nd, d)
	})
	round("revoked")
	expect("revoked", 0, 3, rows, exactly(1))

	// A new build record, one that does not verify.
	change(func(tx store.Tx) error {
		return tx.BuildRecords().CreateBuildRecord(store.BuildRecord{ID: "br-new", DeviceID: "dev-0000017", PayloadSHA256: make([]byte, 32), Envelope: otherRecord(t, tx), CreatedAt: now.Add(time.Second)})
	})
	round("new build record")
	expect("new build record", 0, 3, rows, exactly(1))

	// A record rewritten by hand in SQL, outside any transaction of Hallmark's: the
	// build-records epoch moves (migration 0029), and the next report checks it again.
	if err := tamperRecord("dev-0000019"); err != nil {
		t.Fatalf("tampering with a build record: %v", err)
	}
	got := round("tampered")
	expect("tampered", 0, 3, rows, exactly(1))
	caught := false
	for _, it := range got[0].Items {
		caught = caught || (it.DeviceID == "dev-0000019" && it.Field == "build_record" && strings.Contains(it.Reported, "does not verify"))
	}
	if !caught {
		t.Fatalf("the tampered record is not reported: %+v", got[0].Items)
	}

	// env-1's onboarding policy tightened: its active devices onboarded (not renewed) are
	// evaluated again, and nobody else.
	change(func(tx store.Tx) error {
		return tx.Environments().AddPolicy(environment.PolicyVersion{EnvironmentID: "env-1", Kind: environment.Onboarding, Version: 2,
			Spec: json.RawMessage(`{"rules":[{"name":"hardware-c","expr":"facts.hardware_revision == \"C\""}]}`), CreatedBy: "x", CreatedAt: now})
	})
	round("policy")
	expect("policy", 0, 3, rows, func(d int64) bool { return d > 0 && d <= n/10 })

	// The build-record key rotated: every record is checked under the new key history.
	change(func(tx store.Tx) error {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return err
		}
		return tx.KeyHistory().RotateSigningKey(ca.SigningKey{ID: "sk2", PartyID: "acme", Purpose: "build-record", KeyID: "k2", PublicKeyDER: der, CreatedAt: now})
	})
	round("rotated")
	expect("rotated", 0, 3, rows, exactly(n))

	// A row of another table changed by hand moves no mark: the report is reused until it
	// is older than the recheck bound, then read again (and nothing else decoded).
	round("unchanged again")
	expect("unchanged again", 3, 0, 0, exactly(0))
	now = now.Add(reports.DriftRecheck)
	round("recheck")
	expect("recheck", 0, 3, rows, exactly(0))
}

// otherRecord is the fleet's build record envelope with its signature changed: a record that
// no longer verifies.
func otherRecord(t *testing.T, tx store.Tx) []byte {
	t.Helper()
	r, err := tx.BuildRecords().LatestBuildRecord("dev-0000001")
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(r.Envelope), `"sig":"M`, `"sig":"N`, 1)
	if out == string(r.Envelope) {
		t.Fatal("the fleet's envelope has no signature to change")
	}
	return []byte(out)
}
