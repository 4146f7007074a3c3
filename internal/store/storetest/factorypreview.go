package storetest

import (
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/store"
)

var factoryPreviewTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"FactoryPreviewMatchesTheDryRun", testFactoryPreview},
}

// testFactoryPreview: the counted dry run (Certificates.FactoryPreview) gives the counts of
// the whole dry run (FactoryCerts, then DeviceTargets, with the revocation's rule) and the
// start of its lists, on a lot whose devices are in several states and environments.
func testFactoryPreview(t *testing.T, s store.Store) {
	seedDevice(t, s, "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8")
	at := t0.Add(30 * time.Minute)
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Catalog().CreateLot(deviceLot("l2", "ca1")); err != nil {
			return err
		}
		if err := tx.Devices().CreateDevice(device.Device{ID: "x1", ManufacturerID: "acme", ModelID: "m1", LotID: "l2", Serial: "SN-X1", State: device.Registered, CustodianID: "acme", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.Audit().Append(ev("device.create"))
		return err
	})
	cert := func(serial int64, dev, profile string, notAfter time.Time, issue bool) string {
		t.Helper()
		n := big.NewInt(serial)
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.Certificates().Reserve(ca.Cert{Serial: n, CAID: "ca1", DeviceID: dev, Profile: profile, TBS: []byte{1}, NotBefore: t0, NotAfter: notAfter, CreatedAt: t0})
		})
		if issue {
			if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().MarkIssued(n, []byte{2}, t0) }); err != nil {
				t.Fatal(err)
			}
		}
		return ca.SerialHex(n)
	}
	place := func(dev, env, op string) {
		t.Helper()
		if err := audited(t, s, func(tx store.Tx) error {
			d, err := tx.Devices().GetDevice(dev)
			if err != nil {
				return err
			}
			next := d
			next.EnvironmentID, next.OperationalCert, next.State = env, op, device.Active
			return tx.Devices().UpdateDevice(next, d)
		}); err != nil {
			t.Fatal(err)
		}
	}
	live, ended := t0.Add(time.Hour), t0.Add(10*time.Minute)
	// Factory certificates, serials interleaved across devices so that serial order is not
	// device order.
	for i, dev := range []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7", "x1"} {
		cert(int64(0x1000+0x10*(7-i)), dev, "factory", live, true)
	}
	cert(0x1001, "d7", "factory", live, true) // d7 has two issued factory certificates
	cert(0x1002, "d8", "factory", live, false)
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(0x1000+0x10*3), 1, t0) }); err != nil { // d5's
		t.Fatal(err)
	}
	place("d1", "e1", cert(0x2001, "d1", "operational", live, true))
	place("d2", "e2", cert(0x2002, "d2", "operational", live, true))
	place("d3", "e1", cert(0x2003, "d3", "operational", ended, true)) // ended before at
	held := cert(0x2004, "d4", "operational", live, true)
	if err := audited(t, s, func(tx store.Tx) error { return tx.Certificates().Revoke(big.NewInt(0x2004), 6, t0) }); err != nil {
		t.Fatal(err)
	}
	place("d4", "e2", held)
	place("d5", "e1", cert(0x2005, "d5", "operational", live, true)) // its factory certificate is revoked already
	place("d6", "", "")                                              // no operational identity
	place("d7", "e1", cert(0x2007, "d7", "operational", live, true))
	place("x1", "e1", cert(0x2008, "x1", "operational", live, true)) // another lot

	byLot := store.FactorySelector{ManufacturerID: "acme", LotID: "l1"}
	got := preview(t, s, byLot, at, 10000)
	// d7's two factory certificates suspend its operational certificate once.
	want := store.FactoryPreview{Revoke: 7, Skipped: 1, Suspend: map[string]int{"e1": 2, "e2": 1}}
	if got.Revoke != want.Revoke || got.Skipped != want.Skipped || !reflect.DeepEqual(got.Suspend, want.Suspend) {
		t.Fatalf("lot preview counts = %d to revoke, %d skipped, %v suspended; want %d, %d, %v", got.Revoke, got.Skipped, got.Suspend, want.Revoke, want.Skipped, want.Suspend)
	}
	for _, sel := range []store.FactorySelector{
		byLot,
		{ManufacturerID: "acme", IssuingCAID: "ca1"},
		{ManufacturerID: "acme", DeviceID: "d7"},
		{ManufacturerID: "acme", Line: "a", IssuedFrom: t0, IssuedTo: t0.Add(time.Second)},
		{ManufacturerID: "acme", LotID: "l1", DeviceID: "d8"}, // nothing issued
		{ManufacturerID: "globex", LotID: "l1"},               // another maker's selection: nothing
	} {
		full := fullDryRun(t, s, sel, at)
		for _, limit := range []int{1, 2, 10000} {
			got := preview(t, s, sel, at, limit)
			if got.Revoke != len(full.Factory) || got.Skipped != full.Skipped || !reflect.DeepEqual(got.Suspend, full.Suspend) {
				t.Errorf("%+v limit %d: counts %d, %d, %v; the dry run's %d, %d, %v", sel, limit, got.Revoke, got.Skipped, got.Suspend, len(full.Factory), full.Skipped, full.Suspend)
			}
			if w := full.Factory[:min(limit, len(full.Factory))]; !reflect.DeepEqual(got.Factory, w) {
				t.Errorf("%+v limit %d: factory %+v, want %+v", sel, limit, got.Factory, w)
			}
			if w := firstPerEnvironment(full.Suspended, limit); !reflect.DeepEqual(got.Suspended, w) {
				t.Errorf("%+v limit %d: suspended %+v, want %+v", sel, limit, got.Suspended, w)
			}
		}
	}
}

func preview(t *testing.T, s store.Store, sel store.FactorySelector, at time.Time, limit int) store.FactoryPreview {
	t.Helper()
	var p store.FactoryPreview
	if err := s.View(ctx, func(tx store.Tx) (err error) { p, err = tx.Certificates().FactoryPreview(sel, at, limit); return err }); err != nil {
		t.Fatalf("FactoryPreview(%+v): %v", sel, err)
	}
	return p
}

// fullDryRun is the manufacturing revocation's dry run, row by row: every selected factory
// certificate that is issued is revoked; its device's operational certificate, when issued and
// unexpired, is suspended, once (at the device's first issued factory certificate).
func fullDryRun(t *testing.T, s store.Store, sel store.FactorySelector, at time.Time) store.FactoryPreview {
	t.Helper()
	out := store.FactoryPreview{Suspend: map[string]int{}, Factory: []store.FactoryCert{}, Suspended: []store.Suspension{}}
	if err := s.View(ctx, func(tx store.Tx) error {
		fs, err := tx.Certificates().FactoryCerts(sel, "", 10000)
		if err != nil {
			return err
		}
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.DeviceID)
		}
		targets, err := tx.Bulk().DeviceTargets(ids)
		if err != nil {
			return err
		}
		byID := map[string]store.DeviceTarget{}
		for _, d := range targets {
			byID[d.Device.ID] = d
		}
		held := map[string]bool{}
		for _, f := range fs {
			if f.State != ca.Issued {
				out.Skipped++
				continue
			}
			out.Factory = append(out.Factory, f)
			d := byID[f.DeviceID]
			if d.Device.OperationalCert != "" && d.OperationalState == ca.Issued && at.Before(d.OperationalNotAfter) && !held[d.Device.ID] {
				held[d.Device.ID] = true
				out.Suspended = append(out.Suspended, store.Suspension{DeviceID: d.Device.ID, Serial: d.Device.OperationalCert, Environment: d.Device.EnvironmentID})
				out.Suspend[d.Device.EnvironmentID]++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// firstPerEnvironment keeps the first limit suspensions of each environment, in order.
func firstPerEnvironment(ss []store.Suspension, limit int) []store.Suspension {
	out := []store.Suspension{}
	seen := map[string]int{}
	for _, x := range ss {
		if seen[x.Environment] < limit {
			seen[x.Environment]++
			out = append(out, x)
		}
	}
	return out
}
