package storetest

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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

// ownEvidenceFleet builds, in env1 (operated by op), two active devices held by op with
// operational certificates of their own and evidence that names the other device's:
//
//	d1: a1 (evidence of d1, onboarded at t0) and a2, which its row names as current but whose
//	    evidence was recorded for d2 (onboarded at t0+1h, on d2's facts)
//	d2: b1, which its row names as current (evidence of d2, renewed at t0+2h, based on d1's a1)
//
// It returns the serials (hex) by name.
func ownEvidenceFleet(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	seedDevice(t, s, "d1", "d2")
	seedParty(t, s, "op", party.Operator)
	env := environment.Environment{ID: "env1", OperatorID: "op", Name: "plant", IssuingCAID: "ca1", TrustDomain: "td", Lifetime: environment.Duration(time.Hour),
		MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Environments().CreateEnvironment(env) }); err != nil {
		t.Fatal(err)
	}
	serials := map[string]string{}
	for _, c := range []struct{ name, dev string }{{"a1", "d1"}, {"a2", "d1"}, {"b1", "d2"}} {
		n := big.NewInt(ownEvidenceSerials[c.name])
		issuedTo(t, s, n, c.dev, store.OperationalProfile)
		serials[c.name] = ca.SerialHex(n)
	}
	for _, e := range []struct {
		serial, dev, kind, basedOn, hw string
		at                             time.Time
	}{
		{"a1", "d1", "onboard", "", "d1-A", t0},
		{"a2", "d2", "onboard", "", "d2-B", t0.Add(time.Hour)},
		{"b1", "d2", "renew", "a1", "d2-C", t0.Add(2 * time.Hour)},
	} {
		if err := audited(t, s, func(tx store.Tx) error {
			return tx.Evidence().CreateEvidence(environment.Evidence{Serial: serials[e.serial], DeviceID: e.dev, EnvironmentID: "env1", Kind: e.kind, BasedOn: serials[e.basedOn],
				FactorySerial: "f", Protocol: "api", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x",
				Facts: json.RawMessage(`{"hardware_revision":"` + e.hw + `"}`), CreatedAt: e.at})
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct{ dev, op string }{{"d1", "a2"}, {"d2", "b1"}} {
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(r.dev)
			if err != nil {
				return err
			}
			next := d
			next.CustodianID, next.EnvironmentID, next.State, next.OperationalCert = "op", "env1", device.Active, serials[r.op]
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	return serials
}

// testAdmissionsOwnEvidence: the admissions report reads a device's admission evidence only as
// its own (see checkOwnAdmissions).
func testAdmissionsOwnEvidence(t *testing.T, s store.Store) {
	checkOwnAdmissions(t, s, ownEvidenceFleet(t, s))
}

// checkOwnAdmissions checks the admissions of ownEvidenceFleet (serials by name). The report
// reads a device's admission evidence only as its own (evidence of that device, by device and
// serial), and the certificate before it only as its own operational certificate, as every
// path that acts on a device reads its certificates (store.OwnCert). d1's row names a2, whose
// evidence was recorded for d2: d1 was not admitted on d2's facts; its admission is its newest
// own evidence, a1, which is not its current certificate (so the drift report does not
// evaluate its policy again). d2 was renewed on d1's a1: a1 is not d2's previous certificate.
func checkOwnAdmissions(t *testing.T, s store.Store, serials map[string]string) {
	t.Helper()
	for _, sc := range []store.ReportScope{{All: true}, {PartyID: "op"}, {PartyID: "op", Operational: true}} {
		_ = s.View(ctx, func(tx store.Tx) error {
			ad, err := tx.Reports().Admissions(sc, "", 10)
			if err != nil || len(ad) != 2 || ad[0].Device.ID != "d1" || ad[1].Device.ID != "d2" {
				t.Fatalf("%+v: admissions = %+v, %v; want d1 and d2", sc, ad, err)
			}
			if a := ad[0]; a.Serial != serials["a1"] || string(a.Facts) != `{"hardware_revision":"d1-A"}` || !a.AdmittedAt.Equal(t0) || a.Kind != "onboard" || a.Previous != nil {
				t.Errorf("%+v: admission of d1 = %s (%s, %s at %s, previous %+v); want its own %s (d1-A, onboard at %s, no previous), not d2's evidence of %s",
					sc, a.Serial, a.Facts, a.Kind, a.AdmittedAt, a.Previous, serials["a1"], t0, serials["a2"])
			}
			if a := ad[1]; a.Serial != serials["b1"] || a.Kind != "renew" || string(a.Facts) != `{"hardware_revision":"d2-C"}` || a.Previous != nil || a.Renewals != 0 {
				t.Errorf("%+v: admission of d2 = %s (%s, %s, previous %+v, %d renewals); want %s (renew, d2-C) with no previous certificate: %s is d1's",
					sc, a.Serial, a.Kind, a.Facts, a.Previous, a.Renewals, serials["b1"], serials["a1"])
			}
			return nil
		})
	}
}

// testTrendOwnEvidence: the rotation trend counts a device's issuances from its own evidence of
// its own operational certificates. In ownEvidenceFleet, d2's evidence of a2 names d1's
// certificate: at t0+1h30m d2 held no certificate of its own (its b1 came at t0+2h), so only
// d1 (a1, issued at t0, compliant with max age 2h) counts; at t0+2h30m both do, d1 overdue.
func testTrendOwnEvidence(t *testing.T, s store.Store) {
	ownEvidenceFleet(t, s)
	at := []time.Time{t0.Add(90 * time.Minute), t0.Add(150 * time.Minute)}
	want := []store.TrendCount{{At: at[0], EnvironmentID: "env1", Active: 1, Compliant: 1}, {At: at[1], EnvironmentID: "env1", Active: 2, Compliant: 1}}
	for _, sc := range []store.ReportScope{{All: true}, {PartyID: "op"}, {PartyID: "op", Operational: true}} {
		_ = s.View(ctx, func(tx store.Tx) error {
			got, err := tx.Reports().RotationTrend(sc, at)
			if err != nil || len(got) != len(want) {
				t.Errorf("%+v: trend = %+v, %v; want %+v", sc, got, err, want)
				return nil
			}
			for i := range want {
				if g := got[i]; !g.At.Equal(want[i].At) || g.EnvironmentID != want[i].EnvironmentID || g.Active != want[i].Active || g.Compliant != want[i].Compliant {
					t.Errorf("%+v: trend[%d] = %+v; want %+v", sc, i, g, want[i])
				}
			}
			return nil
		})
	}
}

// ownEvidenceSerials are the serials of ownEvidenceFleet by name.
var ownEvidenceSerials = map[string]int64{"a1": 0xa1, "a2": 0xa2, "b1": 0xb1}

// SeedBeforeEvidenceOwn writes ownEvidenceFleet into a database migrated to just before 0034
// (which adds the index evidence_own). ph is the dialect's first placeholder ("?" or "$1").
func SeedBeforeEvidenceOwn(t *testing.T, db *sql.DB, ph string) {
	t.Helper()
	hex := func(name string) string { return ca.SerialHex(big.NewInt(ownEvidenceSerials[name])) }
	at := func(h int) int64 { return t0.Add(time.Duration(h) * time.Hour).UnixMicro() }
	stmts := []seedStmt{
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('acme', 'Acme', 'manufacturer', 1)`, nil},
		{`INSERT INTO parties (id, name, kind, created_at) VALUES ('op', 'Op', 'operator', 1)`, nil},
		{`INSERT INTO cas (id, party_id, stage, role, name, key_id, cert_der, created_at) VALUES ('ca1', 'acme', 'operational', 'issuing', 'ca', 'k', ?, 1)`, SelfSignedForTest(t)},
		{`INSERT INTO models (id, manufacturer_id, name, hardware_type, created_at) VALUES ('m1', 'acme', 'm', '1.2.3', 1)`, nil},
		{`INSERT INTO lots (id, manufacturer_id, model_id, name, line, issuing_ca_id, created_at) VALUES ('l1', 'acme', 'm1', 'l', 'line', 'ca1', 1)`, nil},
		{fmt.Sprintf(`INSERT INTO environments (id, operator_id, name, issuing_ca_id, trust_domain, lifetime_seconds, max_age_seconds, created_at) VALUES ('env1', 'op', 'plant', 'ca1', 'td', 3600, 7200, %d)`, at(0)), nil},
		{fmt.Sprintf(`INSERT INTO devices (id, manufacturer_id, model_id, lot_id, serial, state, custodian_id, factory_cert, created_at, updated_at, environment_id, operational_cert)
  VALUES ('d1', 'acme', 'm1', 'l1', 'SN-1', 'active', 'op', '', 1, 1, 'env1', '%s'), ('d2', 'acme', 'm1', 'l1', 'SN-2', 'active', 'op', '', 1, 1, 'env1', '%s')`, hex("a2"), hex("b1")), nil},
	}
	for _, c := range []struct{ name, dev string }{{"a1", "d1"}, {"a2", "d1"}, {"b1", "d2"}} {
		stmts = append(stmts, seedStmt{fmt.Sprintf(`INSERT INTO certificates (serial, ca_id, device_id, profile, state, tbs, not_before, not_after, created_at, issued_at)
  VALUES ('%s', 'ca1', '%s', 'operational', 'issued', ?, %d, %d, %d, %d)`, hex(c.name), c.dev, at(0), at(1), at(0), at(0)), []byte{1}})
	}
	for _, e := range []struct {
		name, dev, kind, basedOn, hw string
		at                           int
	}{
		{"a1", "d1", "onboard", "", "d1-A", 0},
		{"a2", "d2", "onboard", "", "d2-B", 1},
		{"b1", "d2", "renew", hex("a1"), "d2-C", 2},
	} {
		stmts = append(stmts, seedStmt{fmt.Sprintf(`INSERT INTO evidence (serial, device_id, environment_id, kind, based_on, factory_serial, protocol, policy_kind, policy_version, principal_id, facts, created_at)
  VALUES ('%s', '%s', 'env1', '%s', '%s', 'f', 'api', 'onboarding', 1, 'x', '{"hardware_revision":"%s"}', %d)`, hex(e.name), e.dev, e.kind, e.basedOn, e.hw, at(e.at)), nil})
	}
	execSeed(t, db, ph, stmts)
}

// CheckEvidenceOwnUpgrade checks a store opened on what SeedBeforeEvidenceOwn wrote: each
// device's admission is read from its own evidence (checkOwnAdmissions), and evidence recorded
// after the upgrade is found: d1, onboarded again on its own c1, is admitted on it.
func CheckEvidenceOwnUpgrade(t *testing.T, s store.Store) {
	t.Helper()
	serials := map[string]string{}
	for name, n := range ownEvidenceSerials {
		serials[name] = ca.SerialHex(big.NewInt(n))
	}
	checkOwnAdmissions(t, s, serials)
	c1 := big.NewInt(0xc1)
	issuedTo(t, s, c1, "d1", store.OperationalProfile)
	at := t0.Add(3 * time.Hour)
	if err := audited(t, s, func(tx store.Tx) error {
		return tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(c1), DeviceID: "d1", EnvironmentID: "env1", Kind: "onboard",
			FactorySerial: "f", Protocol: "api", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{}`), CreatedAt: at})
	}); err != nil {
		t.Fatal(err)
	}
	setOperationalCert(t, s, "d1", ca.SerialHex(c1))
	_ = s.View(ctx, func(tx store.Tx) error {
		ad, err := tx.Reports().Admissions(store.ReportScope{All: true}, "", 1)
		if err != nil || len(ad) != 1 || ad[0].Device.ID != "d1" || ad[0].Serial != ca.SerialHex(c1) || !ad[0].AdmittedAt.Equal(at) || ad[0].Previous == nil || ad[0].Previous.Serial != serials["a1"] {
			t.Errorf("d1's admission after the upgrade = %+v, %v; want %s at %s, after its own %s", ad, err, ca.SerialHex(c1), at, serials["a1"])
		}
		return nil
	})
}

// testCountRenewals: CountRenewals counts a device's evidence of kind renew and nothing else
// (not its onboardings, not another device's renewals), as ListEvidence would.
func testCountRenewals(t *testing.T, s store.Store) {
	serials := ownEvidenceFleet(t, s)
	count := func(dev string) int {
		t.Helper()
		var n int
		if err := s.View(ctx, func(tx store.Tx) (err error) { n, err = tx.Evidence().CountRenewals(dev); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	listed := func(dev string) (n int) {
		t.Helper()
		var evs []environment.Evidence
		if err := s.View(ctx, func(tx store.Tx) (err error) { evs, err = tx.Evidence().ListEvidence(dev); return err }); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Kind == "renew" {
				n++
			}
		}
		return n
	}
	for dev, want := range map[string]int{"d1": 0, "d2": 1, "d9": 0} {
		if got := count(dev); got != want || got != listed(dev) {
			t.Errorf("CountRenewals(%s) = %d, want %d (ListEvidence has %d)", dev, got, want, listed(dev))
		}
	}
	// Two more renewals of d1 and an onboarding-kind row of d2 move only d1's count.
	for i, e := range []struct{ dev, kind string }{{"d1", "renew"}, {"d1", "renew"}, {"d2", "onboard"}} {
		n := big.NewInt(ownEvidenceSerials["b1"] + 100 + int64(i))
		issuedTo(t, s, n, e.dev, store.OperationalProfile)
		if err := audited(t, s, func(tx store.Tx) error {
			return tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(n), DeviceID: e.dev, EnvironmentID: "env1", Kind: e.kind, BasedOn: serials["a1"],
				FactorySerial: "f", Protocol: "api", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{}`), CreatedAt: t0.Add(time.Duration(3+i) * time.Hour)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	for dev, want := range map[string]int{"d1": 2, "d2": 1} {
		if got := count(dev); got != want || got != listed(dev) {
			t.Errorf("after more evidence, CountRenewals(%s) = %d, want %d (ListEvidence has %d)", dev, got, want, listed(dev))
		}
	}
}

// testLatestEvidence: LatestEvidence is the device's evidence row created last, of rows
// created at the same time the first ListEvidence lists (the lowest serial), and ErrNotFound
// for a device without evidence; it is what the dry run read from ListEvidence before.
func testLatestEvidence(t *testing.T, s store.Store) {
	serials := ownEvidenceFleet(t, s)
	latest := func(dev string) (environment.Evidence, error) {
		t.Helper()
		var e environment.Evidence
		err := s.View(ctx, func(tx store.Tx) (err error) { e, err = tx.Evidence().LatestEvidence(dev); return err })
		return e, err
	}
	// fromList is the row the dry run picked from the whole list: the first with the latest time.
	fromList := func(dev string) (newest environment.Evidence, ok bool) {
		t.Helper()
		var evs []environment.Evidence
		if err := s.View(ctx, func(tx store.Tx) (err error) { evs, err = tx.Evidence().ListEvidence(dev); return err }); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if !ok || e.CreatedAt.After(newest.CreatedAt) {
				newest, ok = e, true
			}
		}
		return newest, ok
	}
	check := func(when, dev, wantSerial string) {
		t.Helper()
		got, err := latest(dev)
		want, ok := fromList(dev)
		switch {
		case wantSerial == "":
			if !errors.Is(err, store.ErrNotFound) || ok {
				t.Errorf("%s: LatestEvidence(%s) = %+v, %v; want ErrNotFound (the list has a row: %t)", when, dev, got, err, ok)
			}
		case err != nil:
			t.Errorf("%s: LatestEvidence(%s): %v", when, dev, err)
		case got.Serial != wantSerial || !reflect.DeepEqual(got, want):
			t.Errorf("%s: LatestEvidence(%s) = %+v, want serial %s and the list's %+v", when, dev, got, wantSerial, want)
		}
	}
	check("fleet", "d1", serials["a1"])
	check("fleet", "d2", serials["b1"])
	check("fleet", "d9", "")
	// Two renewals of d1 at the same later time, the higher serial stored first: the lower one
	// is the latest, as the list's order has it.
	for _, off := range []int64{201, 200} {
		n := big.NewInt(ownEvidenceSerials["b1"] + off)
		issuedTo(t, s, n, "d1", store.OperationalProfile)
		if err := audited(t, s, func(tx store.Tx) error {
			return tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(n), DeviceID: "d1", EnvironmentID: "env1", Kind: "renew", BasedOn: serials["a1"],
				FactorySerial: "f", Protocol: "api", PolicyKind: environment.Renewal, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{"hardware_revision":"d1-Z"}`), CreatedAt: t0.Add(5 * time.Hour)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	check("after two renewals at one time", "d1", ca.SerialHex(big.NewInt(ownEvidenceSerials["b1"]+200)))
	check("after two renewals at one time", "d2", serials["b1"])
}
