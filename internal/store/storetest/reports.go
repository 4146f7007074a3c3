package storetest

import (
	"encoding/json"
	"maps"
	"math/big"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/environment"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/store"
)

// reportTests are the contract of the set-based report reads.
var reportTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"Reports", testReports},
	{"ReportsHandedOff", testReportsHandedOff},
	{"ReportsOwnCertificates", testReportsOwnCertificates},             // ownrows.go
	{"SummaryCountsOperationalOnly", testSummaryCountsOperationalOnly}, // ownrows.go
	{"AdmissionsOwnEvidence", testAdmissionsOwnEvidence},               // ownevidence.go
	{"TrendOwnEvidence", testTrendOwnEvidence},                         // ownevidence.go
	{"CountRenewals", testCountRenewals},                               // ownevidence.go
	{"LatestEvidence", testLatestEvidence},                             // ownevidence.go
	{"NextTimeChange", testNextTimeChange},
}

// testNextTimeChange: on reportFleet (max_age 2h; operational certificates ending at 6h, 7h,
// 8h and 10h30m; active devices' current certificates issued at 7h and 9h), the next instant
// a report may change with time alone, with a window of 1h, is the soonest after the given
// one of: an end, an end less the window plus 1µs, an issue time plus max_age; none after the
// last.
func testNextTimeChange(t *testing.T, s store.Store) {
	reportFleet(t, s)
	h := func(x float64) time.Time { return t0.Add(time.Duration(x * float64(time.Hour))) }
	us := time.Microsecond
	for _, c := range []struct {
		after float64
		want  time.Time // zero: none
	}{
		{0, h(5).Add(us)},   // 6h less the window
		{6, h(6).Add(us)},   // 7h less the window; 6h itself is not after 6h
		{8.5, h(9)},         // d2's certificate of 7h, plus max_age
		{9, h(9.5).Add(us)}, // 10h30m less the window; 9h itself is not after 9h
		{9.25, h(9.5).Add(us)},
		{10.6, h(11)}, // d1's certificate of 9h, plus max_age
		{11.1, time.Time{}},
	} {
		_ = s.View(ctx, func(tx store.Tx) error {
			next, ok, err := tx.Reports().NextTimeChange(h(c.after), []time.Duration{time.Hour})
			if err != nil || ok != !c.want.IsZero() || (ok && !next.Equal(c.want)) {
				t.Errorf("NextTimeChange(%vh) = %v, %v, %v; want %v", c.after, next, ok, err, c.want)
			}
			return nil
		})
	}
}

// reportFleet builds, with max_age 2h in env1 (operated by op), as seen at t0+10h:
//
//	d1 active, custodian op: onboarded at 9h (compliant), ends at 10h30m
//	d2 active, custodian op: onboarded at 5h, renewed at 7h (overdue), ends at 8h (lapsed)
//	d3 quarantined, custodian dist, in env1: onboarded at 6h, revoked (keyCompromise) at 8h
//	d4 registered, custodian dist, no environment
func reportFleet(t *testing.T, s store.Store) {
	t.Helper()
	seedDevice(t, s, "d1", "d2", "d3", "d4")
	seedParty(t, s, "op", party.Operator)
	seedParty(t, s, "dist", party.Distributor)
	seedParty(t, s, "other", party.Operator)
	h := func(x float64) time.Time { return t0.Add(time.Duration(x * float64(time.Hour))) }
	env := environment.Environment{ID: "env1", OperatorID: "op", Name: "plant", IssuingCAID: "ca1", TrustDomain: "td", Lifetime: environment.Duration(time.Hour),
		MaxAge: environment.Duration(2 * time.Hour), Services: []string{}, CreatedAt: t0}
	if err := audited(t, s, func(tx store.Tx) error { return tx.Environments().CreateEnvironment(env) }); err != nil {
		t.Fatal(err)
	}
	type issue struct {
		device, serial, kind, basedOn string
		at, end                       time.Time
	}
	for _, is := range []issue{
		{"d1", "01", "onboard", "f1", h(9), h(10.5)},
		{"d2", "02", "onboard", "f2", h(5), h(6)},
		{"d2", "03", "renew", "02", h(7), h(8)},
		{"d3", "04", "onboard", "f3", h(6), h(7)},
	} {
		serial, _ := new(big.Int).SetString(is.serial, 16)
		if err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: serial, CAID: "ca1", DeviceID: is.device, Profile: "operational", TBS: []byte{1}, NotBefore: is.at, NotAfter: is.end, CreatedAt: is.at})
		}); err != nil {
			t.Fatal(err)
		}
		if err := audited(t, s, func(tx store.Tx) error {
			if err := tx.Certificates().MarkIssued(serial, []byte{2}, is.at); err != nil {
				return err
			}
			return tx.Evidence().CreateEvidence(environment.Evidence{Serial: ca.SerialHex(serial), DeviceID: is.device, EnvironmentID: "env1", Kind: is.kind, BasedOn: ca.SerialHex(mustHex(is.basedOn)),
				FactorySerial: "f", Protocol: "api", PolicyKind: environment.Onboarding, PolicyVersion: 1, PrincipalID: "x", Facts: json.RawMessage(`{"hardware_revision":"B"}`), CreatedAt: is.at})
		}); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(serial string, reason int, at time.Time) {
		n, _ := new(big.Int).SetString(serial, 16)
		if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(n, reason, at) }); err != nil {
			t.Fatal(err)
		}
	}
	revoke("02", 4, h(7))
	revoke("04", 1, h(8))
	for _, c := range []struct {
		id, custodian, env, cert string
		state                    device.State
	}{
		{"d1", "op", "env1", "01", device.Active},
		{"d2", "op", "env1", "03", device.Active},
		{"d3", "dist", "env1", "04", device.Quarantined},
		{"d4", "dist", "", "", device.Registered},
	} {
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(c.id)
			if err != nil {
				return err
			}
			next := d
			next.CustodianID, next.EnvironmentID, next.OperationalCert, next.State, next.UpdatedAt = c.custodian, c.env, ca.SerialHex(mustHex(c.cert)), c.state, h(8)
			if c.cert == "" {
				next.OperationalCert = ""
			}
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func mustHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		return big.NewInt(0)
	}
	return n
}

func testReports(t *testing.T, s store.Store) {
	reportFleet(t, s)
	all := store.ReportScope{All: true}
	now := t0.Add(10 * time.Hour)
	h := func(x float64) time.Time { return t0.Add(time.Duration(x * float64(time.Hour))) }
	ids := func(items []store.InventoryItem) (out []string) {
		for _, it := range items {
			out = append(out, it.Device.ID)
		}
		return out
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		r := tx.Reports()
		// Inventory: pages by ID, both stages, scoped by party.
		page, err := r.Inventory(all, "", 2)
		if err != nil || len(page) != 2 || page[0].Device.ID != "d1" || page[0].Operational == nil || page[0].Operational.Serial != ca.SerialHex(mustHex("01")) ||
			page[0].Operational.State != ca.Issued || !page[0].Operational.NotAfter.Equal(h(10.5)) || page[1].Device.ID != "d2" {
			t.Errorf("inventory page 1 = %+v, %v", page, err)
		}
		if page, err = r.Inventory(all, "d2", 10); err != nil || len(page) != 2 || page[0].Device.ID != "d3" || page[1].Operational != nil {
			t.Errorf("inventory page 2 = %+v, %v", page, err)
		}
		for _, c := range []struct {
			party string
			want  []string
		}{
			{"acme", []string{"d1", "d2", "d3", "d4"}}, // manufacturer
			{"op", []string{"d1", "d2"}},               // custodian of d1, d2; d3 is in op's env1 but dist holds it
			{"dist", []string{"d3", "d4"}},             // custodian
			{"other", nil},
		} {
			got, err := r.Inventory(store.ReportScope{PartyID: c.party}, "", 100)
			if err != nil || len(ids(got)) != len(c.want) || (len(c.want) > 0 && ids(got)[len(c.want)-1] != c.want[len(c.want)-1]) {
				t.Errorf("inventory of %s = %v, %v, want %v", c.party, ids(got), err, c.want)
			}
		}
		// Summary.
		sum, err := r.Summary(all, now)
		if err != nil || sum.Devices != 4 || sum.ByState[device.Active] != 2 || sum.ByState[device.Quarantined] != 1 || sum.ByState[device.Registered] != 1 ||
			sum.Offboarded != 1 || sum.OffboardedValid != 0 || sum.KeyCompromise != 1 || sum.Issuances != 4 || sum.Reused != 0 {
			t.Errorf("summary = %+v, %v", sum, err)
		}
		if sum, err := r.Summary(store.ReportScope{PartyID: "other"}, now); err != nil || sum.Devices != 0 || sum.Issuances != 0 {
			t.Errorf("summary of other = %+v, %v", sum, err)
		}
		// A former operator sees what /v1/devices shows it: d3, in its environment but held by
		// dist, counts for dist, not for op.
		if sum, err := r.Summary(store.ReportScope{PartyID: "op"}, now); err != nil || sum.Devices != 2 || sum.ByState[device.Quarantined] != 0 || sum.KeyCompromise != 0 {
			t.Errorf("summary of op = %+v, %v", sum, err)
		}
		if ad, err := r.Admissions(store.ReportScope{PartyID: "op"}, "", 10); err != nil || len(ad) != 2 || ad[1].Device.ID != "d2" {
			t.Errorf("admissions of op = %+v, %v", ad, err)
		}
		// Rotation and overdue.
		rot, err := r.Rotation(all, now)
		if err != nil || len(rot) != 1 || rot[0] != (store.RotationCount{EnvironmentID: "env1", Active: 2, Compliant: 1}) {
			t.Errorf("rotation = %+v, %v", rot, err)
		}
		if rot, err := r.Rotation(store.ReportScope{PartyID: "dist"}, now); err != nil || len(rot) != 0 {
			t.Errorf("rotation of dist = %+v, %v (d3 is not active)", rot, err)
		}
		od, err := r.Overdue(all, now, 10)
		if err != nil || len(od) != 1 || od[0].DeviceID != "d2" || od[0].Serial != ca.SerialHex(mustHex("03")) || od[0].IssuedAt == nil || !od[0].IssuedAt.Equal(h(7)) || od[0].MaxAge != 2*time.Hour {
			t.Errorf("overdue = %+v, %v", od, err)
		}
		if od, err := r.Overdue(store.ReportScope{PartyID: "other"}, now, 10); err != nil || len(od) != 0 {
			t.Errorf("overdue of other = %+v, %v", od, err)
		}
		// Trend from certificate history.
		trend, err := r.RotationTrend(all, []time.Time{h(4), h(6.5), h(8.5), now})
		want := []store.TrendCount{{At: h(6.5), EnvironmentID: "env1", Active: 2, Compliant: 2}, {At: h(8.5), EnvironmentID: "env1", Active: 1, Compliant: 1}, {At: now, EnvironmentID: "env1", Active: 2, Compliant: 1}}
		if err != nil || len(trend) != len(want) {
			t.Errorf("trend = %+v, %v, want %+v", trend, err, want)
		} else {
			for i := range want {
				if !trend[i].At.Equal(want[i].At) || trend[i].EnvironmentID != want[i].EnvironmentID || trend[i].Active != want[i].Active || trend[i].Compliant != want[i].Compliant {
					t.Errorf("trend[%d] = %+v, want %+v", i, trend[i], want[i])
				}
			}
		}
		if trend, err := r.RotationTrend(store.ReportScope{PartyID: "other"}, []time.Time{now}); err != nil || len(trend) != 0 {
			t.Errorf("trend of other = %+v, %v", trend, err)
		}
		// The same trend split by holder: each count names the devices' maker, custodian and
		// current environment, and the counts sum to the whole fleet's.
		by, err := r.RotationTrendByHolder([]time.Time{h(4), h(6.5), h(8.5), now})
		sums := map[[2]string]store.TrendCount{}
		for _, c := range by {
			if c.Holder == nil || c.Holder.ManufacturerID == "" || c.Holder.CustodianID == "" {
				t.Errorf("trend by holder: a count without its holder: %+v", c)
				continue
			}
			k := [2]string{c.At.String(), c.EnvironmentID}
			s := sums[k]
			s.Active, s.Compliant = s.Active+c.Active, s.Compliant+c.Compliant
			sums[k] = s
		}
		if err != nil || len(sums) != len(want) {
			t.Errorf("trend by holder = %+v, %v; want the sums of %+v", by, err, want)
		}
		for _, w := range want {
			if s := sums[[2]string{w.At.String(), w.EnvironmentID}]; s.Active != w.Active || s.Compliant != w.Compliant {
				t.Errorf("trend by holder at %s in %s sums to %+v, want %+v", w.At, w.EnvironmentID, s, w)
			}
		}
		// Expiring: d2's lapsed current certificate and d1's, soonest first.
		cnt, err := r.ExpiringCounts(all, now.Add(time.Hour))
		if err != nil || len(cnt) != 1 || cnt[0] != (store.ExpiringCount{EnvironmentID: "env1", Count: 2}) {
			t.Errorf("expiring counts = %+v, %v", cnt, err)
		}
		exp, err := r.Expiring(all, now.Add(time.Hour), 1)
		if err != nil || len(exp) != 1 || exp[0].DeviceID != "d2" || !exp[0].NotAfter.Equal(h(8)) || exp[0].DeviceState != device.Active {
			t.Errorf("expiring = %+v, %v", exp, err)
		}
		if cnt, err := r.ExpiringCounts(store.ReportScope{PartyID: "dist"}, now.Add(time.Hour)); err != nil || len(cnt) != 0 {
			t.Errorf("expiring counts of dist = %+v, %v (d3's certificate is revoked)", cnt, err)
		}
		// Admissions: what each device's current certificate was issued on.
		ad, err := r.Admissions(all, "", 10)
		if err != nil || len(ad) != 3 {
			t.Fatalf("admissions = %+v, %v, want d1, d2 and d3", ad, err)
		}
		if a := ad[0]; a.Device.ID != "d1" || a.Kind != "onboard" || a.Previous != nil || a.ModelName != "m" || a.LotName != "l" || !a.AdmittedAt.Equal(h(9)) || string(a.Facts) != `{"hardware_revision":"B"}` {
			t.Errorf("admission of d1 = %+v", a)
		}
		if a := ad[1]; a.Device.ID != "d2" || a.Kind != "renew" || a.Serial != ca.SerialHex(mustHex("03")) || a.Previous == nil || a.Previous.Serial != ca.SerialHex(mustHex("02")) ||
			a.Previous.Reason == nil || *a.Previous.Reason != 4 || a.Renewals != 0 || a.PolicyKind != "onboarding" || a.PolicyVersion != 1 {
			t.Errorf("admission of d2 = %+v", a)
		}
		if ad, err := r.Admissions(store.ReportScope{PartyID: "dist"}, "", 10); err != nil || len(ad) != 1 || ad[0].Device.ID != "d3" {
			t.Errorf("admissions of dist = %+v, %v", ad, err)
		}
		if ad, err := r.Admissions(all, "d1", 1); err != nil || len(ad) != 1 || ad[0].Device.ID != "d2" {
			t.Errorf("admissions after d1 = %+v, %v", ad, err)
		}
		return nil
	})
}

// testReportsHandedOff counts handed-off devices (exported in a custody voucher) in a bucket
// of their own: d1 is handed off still holding its valid operational certificate 01 (ends at
// 10h30), d4 handed off without one; d3 stays the one offboarded device.
func testReportsHandedOff(t *testing.T, s store.Store) {
	reportFleet(t, s)
	now := t0.Add(10 * time.Hour)
	for i, id := range []string{"d4", "d1"} {
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(id)
			if err != nil {
				return err
			}
			next := d
			next.State, next.UpdatedAt = device.HandedOff, t0.Add(time.Duration(9+i)*time.Hour)
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.View(ctx, func(tx store.Tx) error {
		sum, err := tx.Reports().Summary(store.ReportScope{All: true}, now)
		if err != nil || sum.Devices != 4 || sum.ByState[device.HandedOff] != 2 || sum.HandedOff != 2 || sum.HandedOffValid != 1 || sum.OldestHandedOffValid != "d1" ||
			sum.Offboarded != 1 || sum.OffboardedValid != 0 || sum.OldestOffboardedValid != "" {
			t.Errorf("summary = %+v, %v", sum, err)
		}
		// The maker (acme) still sees what it made; the holder that exported d4 (dist) too.
		if sum, err := tx.Reports().Summary(store.ReportScope{PartyID: "dist"}, now); err != nil || sum.HandedOff != 1 || sum.HandedOffValid != 0 {
			t.Errorf("summary of dist = %+v, %v", sum, err)
		}
		if sum, err := tx.Reports().Summary(store.ReportScope{PartyID: "other"}, now); err != nil || sum.HandedOff != 0 {
			t.Errorf("summary of other = %+v, %v", sum, err)
		}
		// DeviceStates is the summary's state counts alone, scope by scope.
		for _, sc := range []store.ReportScope{{All: true}, {PartyID: "dist"}, {PartyID: "acme"}, {PartyID: "other"}} {
			sum, err := tx.Reports().Summary(sc, now)
			if err != nil {
				t.Fatal(err)
			}
			if by, err := tx.Reports().DeviceStates(sc); err != nil || !maps.Equal(by, sum.ByState) {
				t.Errorf("device states of %+v = %v, %v; want the summary's %v", sc, by, err, sum.ByState)
			}
		}
		return nil
	})
}
