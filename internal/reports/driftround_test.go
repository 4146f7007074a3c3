package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/audit"
	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/reports"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestSnapshotRoundSharedReads: in a snapshot round (reports.SnapshotRound), the drift reports
// of every party and the auditor's standards mapping come from one read of the fleet, the
// rotation trends of every party from one read of the trend by holder, and each is the report
// its own read makes: the scope filter in Go agrees with the store's SQL on devices held by a
// party other than their environment's operator, held by their maker, and held in no
// environment. A round after a change reads once again; a round after none reads nothing.
func TestSnapshotRoundSharedReads(t *testing.T) { onStores(t, testSnapshotRoundSharedReads) }

func testSnapshotRoundSharedReads(t *testing.T, st store.Store) {
	ctx := context.Background()
	const n = 200
	if err := fillFleet(ctx, st, n); err != nil {
		t.Fatal(err)
	}
	now := benchNow
	clock := func() time.Time { return now }
	change := func(fn func(tx store.Tx) error) { t.Helper(); auditedChange(t, st, now, fn) }
	// Devices whose custodian is not their environment's operator (fillFleet's all are):
	// dev-1 (env-1, op1's, with drift of its facts) held by op2, dev-2 held by its maker,
	// dev-3 held by op1 in no environment; and dev-6 (env-6, op2's) held by op1.
	move := map[string]func(*struct{ custodian, env string }){
		"dev-0000001": func(m *struct{ custodian, env string }) { m.custodian = "op2" },
		"dev-0000002": func(m *struct{ custodian, env string }) { m.custodian = "acme" },
		"dev-0000003": func(m *struct{ custodian, env string }) { m.env = "" },
		"dev-0000006": func(m *struct{ custodian, env string }) { m.custodian = "op1" },
	}
	change(func(tx store.Tx) error {
		for id, fn := range move {
			d, err := tx.Devices().GetDevice(id)
			if err != nil {
				return err
			}
			m := struct{ custodian, env string }{d.CustodianID, d.EnvironmentID}
			fn(&m)
			nd := d
			nd.CustodianID, nd.EnvironmentID, nd.UpdatedAt = m.custodian, m.env, now
			if err := tx.Devices().UpdateDevice(nd, d); err != nil {
				return err
			}
		}
		return nil
	})
	svc := reports.New(st, clock)
	actors := []audit.Actor{{PartyID: "acme"}, {PartyID: "aud"}, {PartyID: "op1"}, {PartyID: "op2"}}
	last := svc.DriftWork()
	// round asks every actor's drift and the auditor's standards mapping in one round, checks
	// each drift report against a new Service's own read, and returns the work it did.
	round := func(step string) reports.DriftWork {
		t.Helper()
		rctx := reports.SnapshotRound(ctx, actors)
		fresh := reports.New(st, clock)
		for _, a := range actors {
			got, err := svc.Drift(rctx, a)
			if err != nil {
				t.Fatalf("%s: drift for %s: %v", step, a.PartyID, err)
			}
			want, err := fresh.Drift(ctx, a)
			if err != nil {
				t.Fatalf("%s: drift of its own read for %s: %v", step, a.PartyID, err)
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Fatalf("%s: %s's drift in the round differs from its own read:\n got %.800s\nwant %.800s", step, a.PartyID, g, w)
			}
			for _, o := range []reports.TrendOptions{{Since: 30 * 24 * time.Hour, Every: 24 * time.Hour}, {Since: 48 * time.Hour, Every: 3 * time.Hour}} {
				gotRot, err := svc.Rotation(rctx, a, o)
				if err != nil {
					t.Fatalf("%s: rotation for %s: %v", step, a.PartyID, err)
				}
				wantRot, err := fresh.Rotation(ctx, a, o)
				if err != nil {
					t.Fatalf("%s: rotation of its own read for %s: %v", step, a.PartyID, err)
				}
				if !reflect.DeepEqual(gotRot, wantRot) {
					g, _ := json.Marshal(gotRot.Trend)
					w, _ := json.Marshal(wantRot.Trend)
					t.Fatalf("%s: %s's rotation in the round differs from its own read; trends:\n got %.1200s\nwant %.1200s", step, a.PartyID, g, w)
				}
				if o.Every == 3*time.Hour && a.PartyID == "aud" && gotRot.Trend[len(gotRot.Trend)-1].Active == 0 {
					t.Fatalf("%s: the trend counts no device to compare: %+v", step, gotRot.Trend)
				}
			}
			if a.PartyID == "aud" {
				gotStd, err := svc.StandardsFor(rctx, a)
				if err != nil {
					t.Fatal(err)
				}
				wantStd, err := fresh.StandardsFor(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(gotStd, wantStd) {
					t.Fatalf("%s: the standards mapping in the round differs from its own read", step)
				}
			}
		}
		w := svc.DriftWork()
		d := reports.DriftWork{Reused: w.Reused - last.Reused, Shared: w.Shared - last.Shared, Read: w.Read - last.Read, Rows: w.Rows - last.Rows}
		last = w
		return d
	}
	w := round("first")
	// One read of the whole fleet; the other three parties and the standards mapping share it.
	if w.Read != 1 || w.Shared != 4 || w.Rows != n {
		t.Fatalf("first round: work %+v; want 1 read of %d rows, shared by 4", w, n)
	}
	if w := round("unchanged"); w.Read != 0 || w.Rows != 0 {
		t.Fatalf("unchanged round: work %+v; want no read", w)
	}
	// The fleet changes: dev-1 renewed, its drift of facts gone.
	change(func(tx store.Tx) error {
		d, err := tx.Devices().GetDevice("dev-0000001")
		if err != nil {
			return err
		}
		s := big.NewInt(1 << 41)
		if err := issue(tx, s, d.ID, "operational", now, now.Add(24*time.Hour), []byte{1}); err != nil {
			return err
		}
		facts := `{"firmware_digest":"` + fmt.Sprintf("%064x", 15) + `","hardware_revision":"B"}`
		if err := tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(s), DeviceID: d.ID, EnvironmentID: d.EnvironmentID, Kind: "renew", BasedOn: d.OperationalCert,
			FactorySerial: d.FactoryCert, Protocol: "est", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(facts), CreatedAt: now}); err != nil {
			return err
		}
		nd := d
		nd.OperationalCert, nd.UpdatedAt = ca.SerialHex(s), now
		return tx.Devices().UpdateDevice(nd, d)
	})
	if w := round("changed"); w.Read != 1 || w.Shared != 4 || w.Rows != n {
		t.Fatalf("changed round: work %+v; want 1 read of %d rows, shared by 4", w, n)
	}
	// Without a round, the same asks read on their own.
	for _, a := range actors {
		if _, err := svc.Drift(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if w := svc.DriftWork(); w.Read-last.Read != int64(len(actors)) || w.Shared != last.Shared {
		t.Fatalf("outside a round: work %+v after %+v; want a read per party", w, last)
	}
}
