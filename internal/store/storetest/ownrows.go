package storetest

import (
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// ownRowsFleet builds, in env1 (operated by op, max age 2h), three active devices held by op
// whose certificates (issued at t0, ending at t0+1h) are:
//
//	d1: factory f1 and operational o1, its own: the one consistent row
//	d2: factory f2, its own; its row names f2 as its operational certificate too
//	d3: its row names its own operational certificate o3 as its factory certificate and d1's
//	    o1 as its operational certificate
//
// with admission evidence for o1 and o3. It returns the serials (hex) by name.
func ownRowsFleet(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	seedDevice(t, s, "d1", "d2", "d3")
	seedParty(t, s, "op", party.Operator)
	env := environment.Environment{ID: "env1", OperatorID: "op", Name: "plant", IssuingCAID: "ca1", TrustDomain: "td", Lifetime: environment.Duration(time.Hour),
		MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Environments().CreateEnvironment(env) }); err != nil {
		t.Fatal(err)
	}
	serials := map[string]string{}
	for i, c := range []struct{ name, dev, profile string }{
		{"f1", "d1", "factory"}, {"o1", "d1", "operational"}, {"f2", "d2", "factory"}, {"o3", "d3", "operational"},
	} {
		n := big.NewInt(int64(0xe1 + i))
		issuedTo(t, s, n, c.dev, c.profile)
		serials[c.name] = ca.SerialHex(n)
		if c.profile != "operational" {
			continue
		}
		if err := audited(t, s, func(tx store.Tx) error {
			return tx.Evidence().CreateEvidence(environment.Evidence{Serial: serials[c.name], DeviceID: c.dev, EnvironmentID: "env1", Kind: "onboard",
				FactorySerial: "f", Protocol: "api", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{}`), CreatedAt: t0})
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct{ dev, factory, op string }{
		{"d1", "f1", "o1"}, {"d2", "f2", "f2"}, {"d3", "o3", "o1"},
	} {
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(r.dev)
			if err != nil {
				return err
			}
			next := d
			next.CustodianID, next.EnvironmentID, next.State = "op", "env1", device.Active
			next.FactoryCert, next.OperationalCert = serials[r.factory], serials[r.op]
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	return serials
}

// testReportsOwnCertificates: the reports read a device's certificates as the paths that act on
// them do (store.OwnCert, DeviceTargets): only a certificate of that device and of the profile
// its row names it as. A row naming its own factory certificate, or another device's
// certificate, as its operational certificate has no operational certificate in the inventory,
// is neither compliant nor expiring but overdue; a row naming its own operational certificate
// as its factory certificate has no factory certificate (inventory, admissions).
func testReportsOwnCertificates(t *testing.T, s store.Store) {
	serials := ownRowsFleet(t, s)
	now := t0.Add(30 * time.Minute)
	for _, sc := range []store.ReportScope{{All: true}, {PartyID: "op"}, {PartyID: "op", Operational: true}} {
		_ = s.View(ctx, func(tx store.Tx) error {
			r := tx.Reports()
			inv, err := r.Inventory(sc, "", 10)
			if err != nil || len(inv) != 3 {
				t.Fatalf("%+v: inventory = %+v, %v; want d1, d2, d3", sc, inv, err)
			}
			serial := func(c *store.CertInfo) string {
				if c == nil {
					return ""
				}
				return c.Serial
			}
			for i, want := range []struct{ factory, op string }{
				{serials["f1"], serials["o1"]}, {serials["f2"], ""}, {"", ""},
			} {
				it := inv[i]
				if f, o := serial(it.Factory), serial(it.Operational); f != want.factory || o != want.op {
					t.Errorf("%+v: inventory %s: factory %q, operational %q; want %q, %q", sc, it.Device.ID, f, o, want.factory, want.op)
				}
			}
			if rot, err := r.Rotation(sc, now); err != nil || !reflect.DeepEqual(rot, []store.RotationCount{{EnvironmentID: "env1", Active: 3, Compliant: 1}}) {
				t.Errorf("%+v: rotation = %+v, %v; want env1 with 3 active, 1 compliant (d1)", sc, rot, err)
			}
			over, err := r.Overdue(sc, now, 10)
			var overIDs []string
			for _, o := range over {
				if o.Serial != "" {
					t.Errorf("%+v: overdue %s with serial %s; want none (it has no operational certificate of its own)", sc, o.DeviceID, o.Serial)
				}
				overIDs = append(overIDs, o.DeviceID)
			}
			if err != nil || !reflect.DeepEqual(overIDs, []string{"d2", "d3"}) {
				t.Errorf("%+v: overdue = %+v, %v; want d2, d3", sc, over, err)
			}
			before := t0.Add(2 * time.Hour)
			if n, err := r.ExpiringCounts(sc, before); err != nil || !reflect.DeepEqual(n, []store.ExpiringCount{{EnvironmentID: "env1", Count: 1}}) {
				t.Errorf("%+v: expiring counts = %+v, %v; want env1: 1 (d1)", sc, n, err)
			}
			if ex, err := r.Expiring(sc, before, 10); err != nil || len(ex) != 1 || ex[0].DeviceID != "d1" || ex[0].Serial != serials["o1"] {
				t.Errorf("%+v: expiring = %+v, %v; want d1's %s alone", sc, ex, err, serials["o1"])
			}
			ad, err := r.Admissions(sc, "", 10)
			if err != nil || len(ad) != 2 {
				t.Fatalf("%+v: admissions = %+v, %v; want d1 and d3", sc, ad, err)
			}
			// d3's row names its operational o3 as its factory certificate: it has none. Its row
			// names d1's o1 as its operational certificate, whose evidence is d1's: d3's
			// admission is its own newest evidence, of o3 (ownevidence.go).
			if a := ad[0]; a.Device.ID != "d1" || a.Serial != serials["o1"] || a.FactoryState != ca.Issued {
				t.Errorf("%+v: admission of d1 = %s %s factory %q; want %s, factory issued", sc, a.Device.ID, a.Serial, a.FactoryState, serials["o1"])
			}
			if a := ad[1]; a.Device.ID != "d3" || a.Serial != serials["o3"] || a.FactoryState != "" || a.FactoryDER != nil {
				t.Errorf("%+v: admission of d3 = %s, factory %q, %d bytes; want its own %s, no factory certificate", sc, a.Serial, a.FactoryState, len(a.FactoryDER), serials["o3"])
			}
			return nil
		})
	}
}

// testSummaryCountsOperationalOnly: the summary's "still valid" and "reused" count operational
// certificates only. d1, quarantined, holds no operational certificate but three issued
// factory certificates (its row names the first; the two others are an inconsistency): it
// holds no valid operational certificate, and reuses none. d2, quarantined, holds one
// operational certificate: it is the one still valid.
func testSummaryCountsOperationalOnly(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2")
	serials := map[string]string{}
	for i, c := range []struct{ name, dev, profile string }{
		{"f1", "d1", "factory"}, {"f1b", "d1", "factory"}, {"f1c", "d1", "factory"}, {"f2", "d2", "factory"}, {"o2", "d2", "operational"},
	} {
		n := big.NewInt(int64(0xf1 + i))
		issuedTo(t, s, n, c.dev, c.profile)
		serials[c.name] = ca.SerialHex(n)
	}
	for _, r := range []struct{ dev, factory, op string }{{"d1", "f1", ""}, {"d2", "f2", "o2"}} {
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(r.dev)
			if err != nil {
				return err
			}
			next := d
			next.State, next.FactoryCert, next.OperationalCert = device.Quarantined, serials[r.factory], serials[r.op]
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		sum, err := tx.Reports().Summary(store.ReportScope{All: true}, t0.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Offboarded != 2 || sum.OffboardedValid != 1 || sum.OldestOffboardedValid != "d2" || sum.Reused != 0 {
			t.Errorf("summary: offboarded %d, still valid %d (oldest %q), reused %d; want 2, 1 (d2), 0: factory certificates are no operational ones",
				sum.Offboarded, sum.OffboardedValid, sum.OldestOffboardedValid, sum.Reused)
		}
		return nil
	})
}
